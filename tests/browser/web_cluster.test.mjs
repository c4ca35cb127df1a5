// The web client on a cluster (docs/CLUSTER.md): two palaver nodes on one real
// redis-server, a page in headless Chromium on one and a plain-text user on the
// other, in one room. See README.md beside this file for how to run it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import {
  STEP_MS,
  chromiumPath,
  launchOptions,
  openClient,
  say,
  waitForDelivered,
  waitForText,
  waitForTitle,
} from './page.mjs';
import { Palaver } from './palaver.mjs';
import { RedisServer } from './redis.mjs';
import { TextUser } from './text-user.mjs';

const ROOM = '#orchard';

const palaverBin = process.env.PALAVER_BIN;

describe('web client on a cluster', { skip: palaverBin ? false : 'set PALAVER_BIN to a palaver binary with --web-listen' }, () => {
  let workDir;
  let redis;
  const nodes = {};
  let browser;
  let tom;
  const problems = [];

  before(async () => {
    assert.ok(fs.existsSync(chromiumPath), `no Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH)`);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'palaver-cluster-browser-'));
    redis = new RedisServer(path.join(workDir, 'redis'));
    await redis.start();
    const config = path.join(workDir, 'palaver.toml');
    fs.writeFileSync(config, '[flood]\nexempt_addresses = ["127.0.0.0/8"]\n');
    for (const name of ['alpha', 'beta']) {
      nodes[name] = new Palaver({
        bin: palaverBin,
        config,
        webRoot: process.env.PALAVER_WEB_ROOT || '',
        extraArgs: ['--cluster', redis.url, '--node-name', name],
      });
      await nodes[name].start();
    }
    browser = await chromium.launch(launchOptions);
  });

  after(async () => {
    tom?.close();
    await browser?.close();
    for (const node of Object.values(nodes)) await node.stop();
    await redis?.stop();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('lets a page on one node and a text user on another talk, with one history', async () => {
    const wanda = await openClient(browser, `${nodes.alpha.webUrl}/${ROOM}`, 'wanda', problems);
    await waitForTitle(wanda, ROOM);

    tom = await TextUser.connect(nodes.beta.addresses.text);
    await tom.waitForLine(/-- welcome to palaver/);
    tom.send('/nick tom');
    await tom.waitForLine(/is now known as tom/);
    tom.send(`/join ${ROOM}`);
    await tom.waitForLine(new RegExp(`-- tom joined ${ROOM}`));

    // Each sees the other, across the nodes: the member list, and the messages both ways.
    await waitForText(wanda, '#member-list .member-button', 'tom');
    await say(wanda, 'hello from a page on alpha');
    await waitForDelivered(wanda, 'hello from a page on alpha');
    await tom.waitForLine(new RegExp(`${ROOM} <wanda> hello from a page on alpha$`));
    tom.send('hello from a text user on beta');
    await waitForText(wanda, '#message-list .msg', 'hello from a text user on beta');

    // A private message from beta reaches the page on alpha as a conversation.
    tom.send('/msg wanda psst, wanda');
    const conversation = wanda.locator('#window-list .window-item.kind-query').filter({ hasText: 'tom' });
    await conversation.locator('.badge.mention').waitFor({ timeout: STEP_MS });

    // A page opened on beta shows the room's history as alpha's page saw it, in order.
    const vera = await openClient(browser, `${nodes.beta.webUrl}/${ROOM}`, 'vera', problems);
    await waitForTitle(vera, ROOM);
    await waitForText(vera, '#message-list .msg', 'hello from a text user on beta');
    const texts = await vera.locator('#message-list .msg').allTextContents();
    const first = texts.findIndex((text) => text.includes('hello from a page on alpha'));
    const second = texts.findIndex((text) => text.includes('hello from a text user on beta'));
    assert.ok(first >= 0 && first < second, `history out of order: ${JSON.stringify(texts)}`);
    await waitForText(wanda, '#member-list .member-button', 'vera');

    assert.deepEqual(problems, []);
  });
});
