// A user-facing error: the CLI prints its message as one line and exits non-zero, no stack.
// `where` names the file/line/field at fault so the message is actionable.
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UserError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
