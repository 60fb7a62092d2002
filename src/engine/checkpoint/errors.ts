/**
 * @file The one error type of checkpoint loading: a message a person can act on, plus the file and
 * tensor it concerns so callers (CLI, extension) can point at them.
 */
export class CheckpointError extends Error {
  readonly file?: string;
  readonly tensor?: string;

  /** `message` should already name the file and tensor; `where` carries them as data too. */
  constructor(message: string, where: { file?: string; tensor?: string } = {}) {
    super(message);
    this.name = 'CheckpointError';
    this.file = where.file;
    this.tensor = where.tensor;
  }
}

/** Builds "FILE: tensor 'NAME': WHAT" (tensor part omitted when absent) and the matching error. */
export function checkpointError(file: string, tensor: string | undefined, what: string): CheckpointError {
  const prefix = tensor === undefined ? `${file}: ` : `${file}: tensor ${JSON.stringify(tensor)}: `;
  return new CheckpointError(prefix + what, { file, tensor });
}

/** A tensor holds NaN or ±Inf: the file is corrupt (or overflowed when saved). */
export class NonFiniteWeightsError extends CheckpointError {
  /** "holds N non-finite values (first: NaN at [i, j])". */
  readonly detail: string;

  constructor(file: string, tensor: string, detail: string, message = `${file}: tensor ${JSON.stringify(tensor)}: ${detail}; the weights are corrupt or overflowed when saved`) {
    super(message, { file, tensor });
    this.name = 'NonFiniteWeightsError';
    this.detail = detail;
  }
}
