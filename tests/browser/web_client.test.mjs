// The web client end to end: a real palaver, headless Chromium (Debian's,
// driven by playwright-core) and a plain-text user on a TCP socket, in the
// same room. See README.md beside this file for how to run it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import {
  STEP_MS,
  chromiumPath,
  launchOptions,
  messages,
  openClient,
  say,
  waitForConnected,
  waitForDelivered,
  waitForText,
  waitForTitle,
  watchPage,
} from './page.mjs';
import { Palaver } from './palaver.mjs';
import { TextUser } from './text-user.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repository = path.resolve(here, '../..');
const screenshotDir = path.join(repository, 'target', 'browser-screenshots');

/** Bounded waits: reconnecting after a restart (the backoff may be at 4–8 s by then); ordinary steps take STEP_MS. */
const RECONNECT_MS = 45_000;

const ROOM = '#garden';
const XSS_FLAG = '__palaverInjected';
const XSS_PAYLOAD = `<img src=x onerror="window.${XSS_FLAG}=1">`;
const XSS_ROOM = `#<img/src=x/onerror=window.${XSS_FLAG}=2>`;

const palaverBin = process.env.PALAVER_BIN;

// ---- the test ----

describe('web client', { skip: palaverBin ? false : 'set PALAVER_BIN to a palaver binary with --web-listen' }, () => {
  let workDir;
  let server;
  let browser;
  let alice;
  let bob;
  let carol;
  const problems = [];

  before(async () => {
    assert.ok(fs.existsSync(chromiumPath), `no Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH)`);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'palaver-browser-'));
    // The text user pastes a backlog faster than flood control's 4 lines a second: exempt loopback.
    const config = path.join(workDir, 'palaver.toml');
    fs.writeFileSync(config, '[flood]\nexempt_addresses = ["127.0.0.0/8"]\n');
    server = new Palaver({
      bin: palaverBin,
      db: path.join(workDir, 'palaver.db'),
      config,
      webRoot: process.env.PALAVER_WEB_ROOT || '',
    });
    await server.start();
    browser = await chromium.launch(launchOptions);
  });

  after(async () => {
    carol?.close();
    await browser?.close();
    await server?.stop();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('serves the client with its security policy', async () => {
    const response = await fetch(`${server.webUrl}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') || '', /^text\/html/);
    const policy = response.headers.get('content-security-policy') || '';
    assert.match(policy, /script-src 'self'/);
    const script = await fetch(`${server.webUrl}/js/main.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') || '', /javascript/);
  });

  it('lets two pages and a text user talk in one room, every way', async () => {
    alice = await openClient(browser, `${server.webUrl}/?room=${encodeURIComponent(ROOM)}`, 'alice', problems);
    await waitForTitle(alice, ROOM);
    bob = await openClient(browser, `${server.webUrl}/${ROOM}`, 'bob', problems);
    await waitForTitle(bob, ROOM);

    carol = await TextUser.connect(server.addresses.text);
    await carol.waitForLine(/-- welcome to palaver/);
    carol.send('/nick carol');
    await carol.waitForLine(/is now known as carol/);
    carol.send(`/join ${ROOM}`);
    await carol.waitForLine(new RegExp(`-- carol joined ${ROOM}`));

    // Everyone is listed, with the room's creator as its operator.
    await waitForText(alice, '#member-list .member-button', 'carol');
    await waitForText(alice, '#member-list .member-button', 'bob');
    const aliceEntry = alice.locator('#member-list .member-button').filter({ hasText: 'alice' });
    assert.equal(await aliceEntry.locator('.member-prefix').textContent(), '@');

    await say(alice, 'hello from alice');
    await waitForDelivered(alice, 'hello from alice');
    await waitForText(bob, '#message-list .msg', 'hello from alice');
    await carol.waitForLine(new RegExp(`${ROOM} <alice> hello from alice$`));

    await say(bob, 'hello from bob');
    await waitForText(alice, '#message-list .msg', 'hello from bob');
    await carol.waitForLine(new RegExp(`${ROOM} <bob> hello from bob$`));

    carol.send('hello from carol');
    await waitForText(alice, '#message-list .msg', 'hello from carol');
    await waitForText(bob, '#message-list .msg', 'hello from carol');
    carol.send('/me waves at everyone');
    await waitForText(bob, '#message-list .msg.msg-action', 'waves at everyone');

    // A pasted block of lines is one message: one entry on the page, one indented message for nc.
    await say(alice, 'first line of a paste\nsecond line of a paste');
    await waitForText(bob, '#message-list .msg', 'second line of a paste');
    assert.equal(await messages(bob, 'first line of a paste').count(), 1);
    assert.match(await messages(bob, 'first line of a paste').textContent(), /first line of a paste\s+second line of a paste/);
    await carol.waitForLine(new RegExp(`${ROOM} <alice> first line of a paste$`));
    await carol.waitForLine(/^ {11}second line of a paste$/);

    // A private message opens a conversation marked as mentioning alice.
    await say(bob, '/msg alice psst, alice');
    const conversation = alice.locator('#window-list .window-item.kind-query').filter({ hasText: 'bob' });
    await conversation.locator('.badge.mention').waitFor({ timeout: STEP_MS });
    await conversation.locator('.window-button').click();
    await waitForText(alice, '#message-list .msg', 'psst, alice');
    await alice.locator(`#window-list [data-window="${ROOM}"]`).click();
    await waitForTitle(alice, ROOM);

    // Keyboard: Tab completes a nick, Alt+Up/Down walk the window list.
    await alice.locator('#input').fill('ca');
    await alice.locator('#input').press('Tab');
    assert.equal(await alice.locator('#input').inputValue(), 'carol: ');
    await alice.locator('#input').fill('');
    await alice.locator('#input').press('Alt+ArrowDown');
    await waitForTitle(alice, 'bob');
    await alice.locator('#input').press('Alt+ArrowUp');
    await waitForTitle(alice, ROOM);

    // Deleting one's own message: gone for the others too.
    await say(alice, 'oops, wrong room');
    await waitForDelivered(alice, 'oops, wrong room');
    await waitForText(bob, '#message-list .msg', 'oops, wrong room');
    const mistake = messages(alice, 'oops, wrong room');
    await mistake.hover();
    await mistake.locator('.msg-delete').click();
    await bob.locator('#message-list .msg.deleted').first().waitFor({ timeout: STEP_MS });
    assert.equal(await messages(bob, 'oops, wrong room').count(), 0);
    await carol.waitForLine(/alice deleted their message/);
  });

  it('shows markup in messages, topics and room names as text and runs none of it', async () => {
    carol.send(`look ${XSS_PAYLOAD}`);
    await say(alice, `/topic ${XSS_PAYLOAD} topic`);
    await say(bob, `/join ${XSS_ROOM}`);

    await waitForText(alice, '#message-list .msg', XSS_PAYLOAD);
    await waitForText(bob, '#window-title', XSS_ROOM);
    await waitForText(alice, '#window-topic', `${XSS_PAYLOAD} topic`);
    await waitForText(bob, '#window-list .window-item', XSS_ROOM);
    await bob.locator(`#window-list [data-window="${ROOM}"]`).click();
    await waitForText(bob, '#message-list .msg', XSS_PAYLOAD);
    await waitForText(bob, '#window-topic', `${XSS_PAYLOAD} topic`);

    for (const page of [alice, bob]) {
      assert.equal(await page.locator('#message-list img, #window-topic img, #window-list img, #window-title img').count(), 0);
      assert.equal(await page.evaluate((flag) => window[flag], XSS_FLAG), undefined);
    }
  });

  it('shows the history after a reload', async () => {
    await alice.reload();
    await waitForConnected(alice);
    await waitForTitle(alice, ROOM);
    await waitForText(alice, '#message-list .msg', 'hello from carol');
    await waitForText(alice, '#message-list .msg', 'hello from bob');
    assert.equal(await messages(alice, 'hello from alice').count(), 1, 'history and live lines are not doubled');
    assert.equal(await alice.locator('#login-dialog[open]').count(), 0, 'the remembered nick connects without asking');
    // The nick is remembered (asked for again should the old page's session linger a moment).
    await alice.waitForFunction(() => document.getElementById('my-nick').textContent === 'alice', null, { timeout: STEP_MS });
  });

  it('loads older history when scrolling up, each message once', async () => {
    const backlog = 80;
    for (let n = 1; n <= backlog; n++) carol.send(`backlog line ${n}`);
    await carol.waitForLine(new RegExp(`${ROOM} <carol> backlog line ${backlog}$`));

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    watchPage(page, problems);
    await page.goto(`${server.webUrl}/${ROOM}`);
    await page.locator('#login-nick').fill('erin');
    await page.locator('#login-submit').click();
    await waitForText(page, '#message-list .msg', `backlog line ${backlog}`);
    assert.equal(await messages(page, 'hello from alice').count(), 0, 'the first page holds only the newest messages');

    const beginning = page.locator('#history-status').filter({ hasText: 'beginning of' });
    for (let scrolls = 0; scrolls < 10 && !(await beginning.isVisible()); scrolls++) {
      const shown = await page.locator('#message-list .msg').count();
      await page.locator('#messages').evaluate((scroller) => {
        scroller.scrollTop = 0;
      });
      await page.waitForFunction(
        (count) =>
          document.querySelectorAll('#message-list .msg').length > count ||
          document.getElementById('history-status').textContent.includes('beginning of'),
        shown,
        { timeout: STEP_MS },
      );
    }
    await beginning.waitFor({ timeout: STEP_MS });
    await waitForText(page, '#message-list .msg', 'hello from alice');
    const texts = await page.locator('#message-list .msg .text').allTextContents();
    for (let n = 1; n <= backlog; n++) {
      assert.equal(texts.filter((text) => text === `backlog line ${n}`).length, 1, `backlog line ${n} shown once`);
    }
    await context.close();
  });

  it('keeps a line typed while the server is down and sends it after reconnecting', async () => {
    carol.close();
    await server.stop();
    await alice.locator('#connection-status[data-state="waiting"]').waitFor({ timeout: STEP_MS });
    assert.match(await alice.locator('#connection-status').textContent(), /Disconnected/);

    await say(alice, 'typed while the server was down');
    const pending = alice.locator('#message-list .msg.pending').filter({ hasText: 'typed while the server was down' });
    await pending.waitFor({ timeout: STEP_MS });
    assert.match(await pending.textContent(), /waiting for the connection/);

    await server.start();
    carol = await TextUser.connect(server.addresses.text);
    await carol.waitForLine(/-- welcome to palaver/);
    carol.send('/nick carol');
    carol.send(`/join ${ROOM}`);

    await waitForConnected(alice, RECONNECT_MS);
    await waitForDelivered(alice, 'typed while the server was down', RECONNECT_MS);
    assert.equal(await alice.locator('#message-list .msg.pending').count(), 0);
    // Live, or in the history replayed when carol joined if the page was back first: either way, once.
    await carol.waitForLine(new RegExp(`${ROOM} <alice> typed while the server was down$`), { timeout: RECONNECT_MS });
    await waitForConnected(bob, RECONNECT_MS);
    await waitForText(bob, '#message-list .msg', 'typed while the server was down', RECONNECT_MS);
    assert.equal(await messages(alice, 'typed while the server was down').count(), 1);
  });

  it('registers an account, logs in with it elsewhere, finds its conversations there and shares read markers', async () => {
    const first = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await first.newPage();
    watchPage(page, problems);
    await page.goto(`${server.webUrl}/${ROOM}`);
    await page.locator('#login-dialog[open]').waitFor({ timeout: STEP_MS });
    await page.locator('label[for="mode-register"]').click();
    await page.locator('#login-nick').fill('dora');
    await page.locator('#login-password').fill('garden-gate-7');
    await page.locator('#login-submit').click();
    await waitForConnected(page);
    await waitForTitle(page, ROOM);
    await waitForText(page, '#message-list .msg', 'Account dora registered');
    await say(page, '/msg bob a private word, bob');
    await waitForText(bob, '#window-list .window-item.kind-query', 'dora');

    // Another device: a wrong password is refused in the dialog; the right one logs in.
    const second = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const other = await second.newPage();
    watchPage(other, problems);
    await other.goto(`${server.webUrl}/${ROOM}`);
    await other.locator('#login-dialog[open]').waitFor({ timeout: STEP_MS });
    await other.locator('label[for="mode-login"]').click();
    await other.locator('#login-nick').fill('dora');
    await other.locator('#login-password').fill('not-the-password');
    await other.locator('#login-submit').click();
    await waitForText(other, '#login-error', /./);
    await other.locator('#login-password').fill('garden-gate-7');
    await other.locator('#login-submit').click();
    await waitForConnected(other);
    // The first device still holds the nick dora; the account is what counts.
    assert.match(await other.locator('#my-nick').textContent(), /^dora/);
    const conversation = other.locator('#window-list .window-item.kind-query').filter({ hasText: 'bob' });
    await conversation.locator('.window-button').click();
    await waitForText(other, '#message-list .msg', 'a private word, bob');

    // Read markers are shared: what the first device reads is no longer unread on the second.
    const unreadHere = other.locator(`#window-list [data-window="${ROOM}"] .badge`);
    await say(bob, 'news for everyone in the garden');
    await unreadHere.waitFor({ timeout: STEP_MS });
    await waitForText(page, '#message-list .msg', 'news for everyone in the garden');
    await unreadHere.waitFor({ state: 'detached', timeout: STEP_MS });
    await first.close();
    await second.close();
  });

  it('looks right at desktop and phone width, light and dark', async () => {
    fs.mkdirSync(screenshotDir, { recursive: true });
    // A quiet new room with a short conversation, so that the pictures show what people see.
    const scene = await openClient(browser, `${server.webUrl}/#tea`, 'grace', problems);
    await waitForTitle(scene, '#tea');
    await say(scene, '/topic Tea, biscuits and slow conversation · all welcome');
    carol.send('/join #tea');
    await waitForText(scene, '#member-list .member-button', 'carol');
    carol.send('the kettle is on');
    carol.send('/me pours a cup for everyone');
    await waitForText(scene, '#message-list .msg', 'pours a cup');
    await say(bob, '/join #tea');
    await waitForTitle(bob, '#tea');
    await say(bob, 'grace, green or black today?');
    await waitForText(scene, '#message-list .msg.mention', 'green or black');
    await say(scene, 'black, please\nwith a little milk, if there is any left');
    await waitForDelivered(scene, 'with a little milk');
    carol.send('there is. also: https://example.org/teapots has a lovely pot');
    await say(bob, '/msg grace are you coming to the meetup on Thursday?');
    await scene.locator('#window-list .window-item.kind-query .badge').waitFor({ timeout: STEP_MS });
    await waitForText(scene, '#message-list .msg', 'lovely pot');
    const shots = [
      { name: 'desktop-light', width: 1280, height: 800, scheme: 'light' },
      { name: 'desktop-dark', width: 1280, height: 800, scheme: 'dark' },
      { name: 'phone-light', width: 390, height: 844, scheme: 'light' },
      { name: 'phone-dark', width: 390, height: 844, scheme: 'dark' },
    ];
    for (const shot of shots) {
      await scene.setViewportSize({ width: shot.width, height: shot.height });
      await scene.emulateMedia({ colorScheme: shot.scheme });
      const background = await scene.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const dark = shot.scheme === 'dark';
      assert.equal(isDark(background), dark, `${shot.name}: the page background ${background} follows the system theme`);
      const sidebarVisible = await scene.locator('#sidebar').isVisible();
      assert.equal(sidebarVisible, shot.width > 700, `${shot.name}: the room list is a column only on wide screens`);
      const composer = await scene.locator('#input').boundingBox();
      assert.ok(composer && composer.y + composer.height <= shot.height && composer.x + composer.width <= shot.width, `${shot.name}: the message box fits the screen`);
      await scene.screenshot({ path: path.join(screenshotDir, `${shot.name}.png`), animations: 'disabled' });
    }

    // At phone width the room list is a panel: opened by its button, closed with Escape.
    await scene.locator('#toggle-windows').click();
    await scene.locator('#sidebar').waitFor({ state: 'visible', timeout: STEP_MS });
    await scene.screenshot({ path: path.join(screenshotDir, 'phone-dark-rooms.png'), animations: 'disabled' });
    await scene.keyboard.press('Escape');
    await scene.locator('#sidebar').waitFor({ state: 'hidden', timeout: STEP_MS });

    // The theme toggle overrides the system and is remembered.
    await scene.locator('#toggle-theme').click();
    assert.equal(await scene.evaluate(() => document.documentElement.dataset.theme), 'light');
    await scene.reload();
    await waitForConnected(scene);
    assert.equal(await scene.evaluate(() => document.documentElement.dataset.theme), 'light');
    assert.equal(isDark(await scene.evaluate(() => getComputedStyle(document.body).backgroundColor)), false);

    // The first visit's dialog, for a person to look at too.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    watchPage(page, problems);
    await page.goto(server.webUrl);
    await page.locator('#login-dialog[open]').waitFor({ timeout: STEP_MS });
    await page.screenshot({ path: path.join(screenshotDir, 'login-light.png'), animations: 'disabled' });
    await context.close();

    for (const shot of [...shots.map((s) => s.name), 'phone-dark-rooms', 'login-light']) {
      assert.ok(fs.statSync(path.join(screenshotDir, `${shot}.png`)).size > 5000, `${shot}.png was written`);
    }
  });

  it('has no accessibility violations axe-core can find, light and dark', async () => {
    // axe is injected as a script, which the page's own policy rightly refuses: this one
    // browser profile bypasses the policy (every other check runs under it).
    const axeSource = fs.readFileSync(path.join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
    for (const scheme of ['light', 'dark']) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: scheme, bypassCSP: true });
      const page = await context.newPage();
      await page.goto(`${server.webUrl}/${ROOM}`);
      await page.locator('#login-dialog[open]').waitFor({ timeout: STEP_MS });
      await page.addScriptTag({ content: axeSource });
      const audit = () => page.evaluate(async () => (await window.axe.run()).violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`));
      assert.deepEqual(await audit(), [], `${scheme}: the login dialog`);
      await page.locator('#login-nick').fill(`frank-${scheme}`);
      await page.locator('#login-submit').click();
      await waitForConnected(page);
      await say(page, 'checking how this reads');
      await waitForDelivered(page, 'checking how this reads');
      assert.deepEqual(await audit(), [], `${scheme}: a room`);
      await context.close();
    }
  });

  it('reported no script errors and no security-policy refusals', () => {
    assert.deepEqual(problems, []);
  });
});

/** Whether a CSS `rgb(…)` colour is dark (by its luminance). */
function isDark(colour) {
  const [r, g, b] = (colour.match(/\d+(\.\d+)?/g) || ['255', '255', '255']).map(Number);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 128;
}
