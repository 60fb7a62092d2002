/**
 * @file The engine process entry point (forked by the extension host). Placeholder until the
 * JSON-RPC server lands (issue 6).
 */
export {};
