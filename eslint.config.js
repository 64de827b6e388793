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
    // The WASM boundary: outside orchestrator/wasm/ only core.ts (and errors.ts) may be imported;
    // the other modules take raw pointers.
    files: ["**/*.ts"],
    // test/contracts.test.ts reads the internal layout constants to tie them to assembly/.
    ignores: ["orchestrator/wasm/**", "test/contracts.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "wasm/(memory|resident|segmenting|uid-table|batch|types)\\.js$",
              message: "import the WASM core's public surface, orchestrator/wasm/core.js",
            },
          ],
        },
      ],
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
