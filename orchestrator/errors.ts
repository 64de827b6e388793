/** Base of every error bitsync raises on purpose. `retriable` tells retry logic what to do. */
export class BitsyncError extends Error {
  readonly retriable: boolean = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A setting has a value that cannot work. The message names the variable. */
export class ConfigError extends BitsyncError {}
