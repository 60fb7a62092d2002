/** @file Extension entry point: wiring only. Placeholder until the editor front lands (issue 6). */
export function activate(): void {}
export function deactivate(): void {}
