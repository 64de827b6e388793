// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "build/", "node_modules/", ".stack/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    // AssemblyScript: its own types (u32, usize) and builtins; assembly/tsconfig.json type-checks it.
    files: ["assembly/**/*.ts"],
    rules: {
      "@typescript-eslint/ban-ts-comment": "off",
      "@typescript-eslint/consistent-type-imports": "off",
      "prefer-const": "error",
      "no-constant-condition": "off",
      // 64-bit literals are exact in AssemblyScript (i64), unlike JS numbers.
      "no-loss-of-precision": "off",
    },
  },
);
