// The holder's whole path in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core; no downloaded browser): an invitation mail, the application form (a field
// error first), an operator's signed approval, a batch run, the activation mail, the pickup
// page with the operator's activation code and a new password, the PKCS#12 download opened by
// openssl with that password (its key matching its certificate), then the used link, an
// expired link and a link locked by wrong codes; a German profile's mail and pickup page; a
// CSR uploaded as a file and its certificate and chain downloaded from the pickup page. Run by tests/browser/browser_it.cc, which
// sets up the database, token, SMTP server and `certpress serve`, and passes:
//   CP_URL (the server), CP_CLI (certpress with the test's config), CP_MAILDIR, CP_OPERATOR
//   (JSON: the approve options of operator alice), CP_WORK (a scratch directory),
//   CP_SQL (runs one SQL statement against the test database), CP_SCREENSHOTS (optional dir).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through browser_it)`);
  return v;
};
const URL_BASE = env('CP_URL');
const CLI = env('CP_CLI');
const MAILDIR = env('CP_MAILDIR');
const WORK = env('CP_WORK');
const SQL = env('CP_SQL');
const OPERATOR = JSON.parse(env('CP_OPERATOR'));
const SHOTS = process.env.CP_SCREENSHOTS || '';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const MAILDIR_PY = path.join(HERE, '..', 'support', 'maildir.py');

const run = (file, args) => execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const cli = (...args) => run(CLI, args);
const sql = (statement) => run(SQL, [statement]);
const mails = () => JSON.parse(run('python3', [MAILDIR_PY, MAILDIR]));
// The newest mail to |addr| whose text matches |re|: the captured group.
const linkIn = (addr, re) => {
  const found = mails().filter((m) => m.to_addr === addr).map((m) => m.text.match(re)).filter(Boolean);
  assert.ok(found.length > 0, `no mail to ${addr} with ${re}`);
  return found[found.length - 1][0];
};
const shot = async (page, name) => {
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
};
const codeFor = (request) => {
  const m = cli('activation', 'code', '--request', String(request)).match(/[0-9A-Z]{5}-[0-9A-Z]{5}/);
  assert.ok(m, 'no activation code printed');
  return m[0];
};
const pubkey = (args, p12, pwFile) =>
  execFileSync('bash', ['-c', `openssl pkcs12 -in "$1" -passin "file:$2" ${args}`, 'sh', p12, pwFile], {
    encoding: 'utf8',
  });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  // Our server's certificate comes from CertPress's own web CA, which this browser does not
  // know; the TLS itself is checked with openssl by WebIT.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true });
  const page = await context.newPage();

  // 1. The invitation and its mail.
  cli('invite', '--profile', 'employee-soft', '--ca', 'issuing', '--email', 'ada@example.org',
      '--name', 'Ada Lovelace');
  cli('mail', 'send');
  const applyLink = linkIn('ada@example.org', /https:\/\/\S+\/apply\/[A-Za-z0-9_-]{43}/);
  assert.ok(applyLink.startsWith(URL_BASE), applyLink);

  // 2. The form: prefilled from the invitation; a bad employee id is named on the page.
  let res = await page.goto(applyLink);
  assert.equal(res.status(), 200);
  assert.equal(await page.inputValue('#f-given_name'), 'Ada');
  assert.equal(await page.inputValue('#f-surname'), 'Lovelace');
  assert.equal(await page.inputValue('#f-email'), 'ada@example.org');
  // What the invitation fixed cannot be edited in the browser (the server refuses a change too).
  for (const f of ['#f-given_name', '#f-surname', '#f-email']) {
    assert.notEqual(await page.getAttribute(f, 'readonly'), null, f);
    assert.equal(await page.isEditable(f), false, f);
  }
  await shot(page, 'apply');
  await page.fill('#f-employee_id', 'X42');
  await page.fill('#f-department', 'Analytical Engines');
  await page.fill('#f-country', 'GB');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  await shot(page, 'apply-errors');
  assert.match(await page.textContent('#f-employee_id-error'), /'X42' does not match the pattern/);
  assert.equal(await page.getAttribute('#f-employee_id', 'aria-invalid'), 'true');
  await page.fill('#f-employee_id', 'E300001');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  assert.equal(await page.textContent('h1'), 'Application received');
  const request = Number((await page.textContent('main strong')).trim());
  assert.ok(request > 0);
  await shot(page, 'apply-done');

  // 3. An operator approves (a signed statement), a batch issues, the activation mail goes.
  cli('approve', '--ids', String(request), ...OPERATOR);
  assert.match(cli('run-batch'), /issued 1, failed 0/);
  cli('mail', 'send');
  const pickupLink = linkIn('ada@example.org', /https:\/\/\S+\/pickup\/[A-Za-z0-9_-]{43}/);
  const code = codeFor(request);

  // 4. The pickup: code and password, a download.
  res = await page.goto(pickupLink);
  assert.equal(res.status(), 200);
  assert.match(await page.textContent('main'), /Ada Lovelace/);
  await shot(page, 'pickup');
  const password = 'lovelace analytical engine 1843';
  await page.fill('#f-code', code.toLowerCase().replace('-', ' '));  // typed loosely
  await page.fill('#f-password', password);
  await page.fill('#f-password2', password);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('button[type=submit]')]);
  // The browser takes the RFC 8187 filename*, the holder's name as written.
  assert.equal(download.suggestedFilename(), 'Ada Lovelace.p12');
  const p12 = path.join(WORK, 'ada.p12');
  await download.saveAs(p12);
  const pw = path.join(WORK, 'ada.pw');
  fs.writeFileSync(pw, password, { mode: 0o600 });
  const certKey = execFileSync('bash', ['-c', 'openssl pkcs12 -in "$1" -passin "file:$2" -nokeys -clcerts | openssl x509 -noout -pubkey', 'sh', p12, pw], { encoding: 'utf8' });
  const privKey = execFileSync('bash', ['-c', 'openssl pkcs12 -in "$1" -passin "file:$2" -nocerts -nodes | openssl pkey -pubout', 'sh', p12, pw], { encoding: 'utf8' });
  assert.match(certKey, /BEGIN PUBLIC KEY/);
  assert.equal(privKey, certKey, 'the key in the PKCS#12 is not its certificate\'s');
  const subject = execFileSync('bash', ['-c', 'openssl pkcs12 -in "$1" -passin "file:$2" -nokeys -clcerts | openssl x509 -noout -subject', 'sh', p12, pw], { encoding: 'utf8' });
  assert.match(subject, /CN = Ada Lovelace/);

  // 5. The link then fails.
  res = await page.goto(pickupLink);
  assert.equal(res.status(), 404);
  assert.equal(await page.textContent('h1'), 'This link cannot be used');
  await shot(page, 'link-invalid');

  // 6. An expired link fails, and a link whose codes were wrong 10 times is locked.
  fs.writeFileSync(path.join(WORK, 'more.csv'),
    'given_name,surname,email,employee_id,country\n' +
    'Charles,Babbage,charles@example.org,E300002,GB\nGrace,Hopper,grace@example.org,E300003,US\n');
  cli('import', path.join(WORK, 'more.csv'), '--profile', 'employee-soft', '--ca', 'issuing');
  cli('approve', '--all', '--profile', 'employee-soft', ...OPERATOR);
  assert.match(cli('run-batch'), /issued 2, failed 0/);
  cli('mail', 'send');
  const charles = linkIn('charles@example.org', /https:\/\/\S+\/pickup\/[A-Za-z0-9_-]{43}/);
  const grace = linkIn('grace@example.org', /https:\/\/\S+\/pickup\/[A-Za-z0-9_-]{43}/);
  sql("UPDATE activations SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE recipient_email = 'charles@example.org'");
  res = await page.goto(charles);
  assert.equal(res.status(), 404);
  assert.equal(await page.textContent('h1'), 'This link cannot be used');

  const graceRequest = Number(sql("SELECT request_id FROM activations WHERE recipient_email = 'grace@example.org'").trim());
  const graceCode = codeFor(graceRequest);
  for (let i = 1; i <= 10; i++) {
    res = await page.goto(grace);
    assert.equal(res.status(), 200, `attempt ${i}: the form`);
    await page.fill('#f-code', 'ZZZZZ-ZZZZZ');
    await page.fill('#f-password', 'a password for grace');
    await page.fill('#f-password2', 'a password for grace');
    const [nav] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    if (i < 10) {
      assert.equal(nav.status(), 400);
      assert.match(await page.textContent('#f-code-error'), new RegExp(`${10 - i} attempt\\(s\\) left`));
      if (i === 1) await shot(page, 'pickup-wrong-code');
    } else {
      assert.equal(nav.status(), 404, 'the tenth wrong code locks the link');
    }
  }
  res = await page.goto(grace);
  assert.equal(res.status(), 404);
  assert.equal(sql("SELECT state FROM activations WHERE recipient_email = 'grace@example.org'").trim(), 'locked');
  assert.ok(graceCode.length > 0);

  // 7. A German profile (browser_it writes profiles/browser-de.toml): its activation mail and
  // its pickup page speak German.
  fs.writeFileSync(path.join(WORK, 'de.csv'),
    'given_name,surname,email,employee_id,country\nJörg,Müller,joerg@example.org,E300004,DE\n');
  cli('import', path.join(WORK, 'de.csv'), '--profile', 'employee-soft-de', '--ca', 'issuing');
  cli('approve', '--all', '--profile', 'employee-soft-de', ...OPERATOR);
  assert.match(cli('run-batch'), /issued 1, failed 0/);
  cli('mail', 'send');
  const deMail = mails().filter((m) => m.to_addr === 'joerg@example.org').pop();
  assert.equal(deMail.subject, 'Ihr Zertifikat liegt zur Abholung bereit');
  assert.match(deMail.text, /^Hallo Jörg Müller,/);
  const joerg = linkIn('joerg@example.org', /https:\/\/\S+\/pickup\/[A-Za-z0-9_-]{43}/);
  res = await page.goto(joerg);
  assert.equal(res.status(), 200);
  assert.equal(await page.getAttribute('html', 'lang'), 'de');
  assert.equal(await page.textContent('h1'), 'Ihr Zertifikat abholen');
  assert.equal(await page.textContent('label[for=f-code]'), 'Aktivierungscode');
  await shot(page, 'pickup-de');

  // 8. A CSR as a file: the application form uploads a DER request; after approval and a batch
  // the pickup page gives the certificate with its chain (PEM) and alone (DER) as downloads,
  // which openssl verifies against the exported CAs.
  const der = path.join(WORK, 'server.csr.der');
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', path.join(WORK, 'server.key'), '-subj', '/CN=server.example.org',
    '-outform', 'DER', '-out', der], { stdio: 'ignore' });
  cli('invite', '--profile', 'server-csr', '--email', 'ops@example.org', '--name', 'Ops Team');
  cli('mail', 'send');
  res = await page.goto(linkIn('ops@example.org', /https:\/\/\S+\/apply\/[A-Za-z0-9_-]{43}/));
  assert.equal(res.status(), 200);
  assert.equal(await page.inputValue('#f-email'), 'ops@example.org');
  await page.setInputFiles('#f-csr_file', der);
  await shot(page, 'apply-csr');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  assert.equal(await page.textContent('h1'), 'Application received');
  const csrRequest = Number((await page.textContent('main strong')).trim());
  cli('approve', '--ids', String(csrRequest), ...OPERATOR);
  assert.match(cli('run-batch'), /issued 1, failed 0/);
  cli('mail', 'send');
  res = await page.goto(linkIn('ops@example.org', /https:\/\/\S+\/pickup\/[A-Za-z0-9_-]{43}/));
  assert.equal(res.status(), 200);
  await page.fill('#f-code', codeFor(csrRequest));
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  assert.equal(await page.textContent('h1'), 'Your certificate');
  await shot(page, 'pickup-csr');
  const saved = {};
  for (const id of ['pem', 'der']) {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`#${id}`)]);
    assert.equal(dl.suggestedFilename(), `server.example.org.${id === 'pem' ? 'pem' : 'cer'}`);
    saved[id] = path.join(WORK, dl.suggestedFilename());
    await dl.saveAs(saved[id]);
  }
  const cas = path.join(WORK, 'cas.pem');
  fs.writeFileSync(cas, cli('ca', 'export', 'issuing') + cli('ca', 'export', 'root'));
  assert.match(run('openssl', ['verify', '-CAfile', cas, saved.pem]), /: OK/);
  const derPem = path.join(WORK, 'server-der.pem');
  run('openssl', ['x509', '-inform', 'DER', '-in', saved.der, '-out', derPem]);
  assert.match(run('openssl', ['verify', '-CAfile', cas, derPem]), /: OK/);
  assert.equal(run('openssl', ['x509', '-in', derPem, '-noout', '-pubkey']),
    run('openssl', ['req', '-inform', 'DER', '-in', der, '-noout', '-pubkey']));
  console.log('browser flow: ok');
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
