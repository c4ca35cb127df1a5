// What the browser tests do with a page of the web client: open one signed in,
// type into it, and wait (bounded, for a signal) for what it shows.

export const STEP_MS = 15_000;

export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Options for launching Debian's Chromium headless (no sandbox in a container, nothing phoning home). */
export const launchOptions = {
  executablePath: chromiumPath,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};

/** Waits until an element matching `selector` shows `text` (a string or RegExp). */
export function waitForText(page, selector, text, timeout = STEP_MS) {
  return page.locator(selector).filter({ hasText: text }).first().waitFor({ state: 'visible', timeout });
}

export function messages(page, text) {
  return page.locator('#message-list .msg').filter({ hasText: text });
}

export async function say(page, text) {
  await page.locator('#input').fill(text);
  await page.locator('#input').press('Enter');
}

export async function waitForConnected(page, timeout = STEP_MS) {
  await page.locator('#connection-status[data-state="connected"]').waitFor({ timeout });
}

export async function waitForTitle(page, title, timeout = STEP_MS) {
  await page.waitForFunction((expected) => document.getElementById('window-title').textContent === expected, title, { timeout });
}

/** A delivered (not pending) line of our own with this text. */
export async function waitForDelivered(page, text, timeout = STEP_MS) {
  await page.locator('#message-list .msg.self:not(.pending)').filter({ hasText: text }).first().waitFor({ timeout });
}

/** Problems a page reported: script errors, and any Content-Security-Policy refusal. */
export function watchPage(page, problems) {
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (/Content Security Policy|Refused to/i.test(text)) problems.push(`console: ${text}`);
  });
  page.on('dialog', (dialog) => dialog.accept());
}

/** A fresh browser profile (its own localStorage) with one page, signed in as `nick`. */
export async function openClient(browser, url, nick, problems) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  watchPage(page, problems);
  await page.goto(url);
  await page.locator('#login-dialog[open]').waitFor({ timeout: STEP_MS });
  await page.locator('#login-nick').fill(nick);
  await page.locator('#login-submit').click();
  await waitForConnected(page);
  return page;
}

