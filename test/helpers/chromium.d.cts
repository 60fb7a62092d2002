/** Types for chromium.cjs (plain JS so the VS Code stand-in can import it without tsx). */
export declare const CHROMIUM: string;
export declare const CHROMIUM_ARGS: readonly string[];
export declare function chromiumLaunchOptions(): { executablePath: string; headless: true; args: string[] };
