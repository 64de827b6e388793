// Secrets hidden from logs and help output.

/** Names of URL query options that hold a secret: password (mysql2 also reads password1..3), passwd, pwd, ... */
const SECRET_OPTION = /pass|pwd|secret|token/i;

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Hides the secrets of a URL, for logs and help output: user:password@ and options such as ?password=. */
export function redact(value: string): string {
  // The userinfo ends at the authority's last @ (an unencoded @ may be part of the password).
  const masked = value.replace(/(\/\/[^:/?#@]*:)[^/?#]*@/, "$1***@");
  if (!masked.includes("://")) return masked;
  return masked.replace(/([?&;])([^=&;#]*)=([^&;#]+)/g, (all, sep: string, name: string) =>
    SECRET_OPTION.test(decoded(name)) ? `${sep}${name}=***` : all,
  );
}
