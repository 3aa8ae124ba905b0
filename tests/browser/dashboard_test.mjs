// The web dashboard in a real browser: Debian's chromium, driven headless by playwright-core.
// A daemon on two simulated GPUs runs a few jobs; `fastgpu dashboard` serves them; the page
// must show what the daemon says, follow a job's log, cancel a job from its panel (and
// only from its own page), live through a daemon that stops, recover when a daemon on GPUs read through NVML (the fake NVML library) takes
// its place, and show nothing without the token.
//
// usage: node dashboard_test.mjs FASTGPU_BINARY FAKE_NVML_LIBRARY [SCREENSHOT.png]
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

const [fastgpu, fakeNvml, screenshot] = process.argv.slice(2);
if (!fastgpu || !fakeNvml) {
  console.error("usage: node dashboard_test.mjs FASTGPU_BINARY FAKE_NVML_LIBRARY [SCREENSHOT.png]");
  process.exit(2);
}
const browserPath = process.env.FASTGPU_CHROMIUM || "/usr/bin/chromium";
if (!existsSync(browserPath)) {
  console.error(`no browser at ${browserPath}: install Debian's chromium (scripts/setup.sh does), or set FASTGPU_CHROMIUM`);
  process.exit(1);
}
let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (error) {
  console.error(`playwright-core is not installed: run scripts/setup.sh (npm ci in tests/browser) (${error.message})`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "fastgpu-dashboard-"));
const env = { ...process.env, XDG_STATE_HOME: join(work, "state"), XDG_RUNTIME_DIR: join(work, "run"),
  FASTGPU_DEVICES: "2xA100-40G" };
delete env.FASTGPU_STATE_DIR;
delete env.FASTGPU_SOCKET;
mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });

function cli(...args) {
  return cliWith(env, ...args);
}
function cliWith(environment, ...args) {
  return execFileSync(fastgpu, args, { env: environment, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

let browser = null;
async function cleanUp() {
  if (browser) await browser.close().catch(() => {});
  for (const dashboard of dashboards) {
    if (dashboard.exitCode === null) dashboard.kill("SIGTERM");
  }
  try {
    cli("daemon", "stop");
  } catch {}
  rmSync(work, { recursive: true, force: true });
}

// Starts `fastgpu dashboard` on any free port; resolves with the URL it prints.
const dashboards = [];
function startDashboard(...flags) {
  const dashboard = spawn(fastgpu, ["dashboard", "--listen", "127.0.0.1:0", ...flags], { env, stdio: ["ignore", "pipe", "inherit"] });
  dashboards.push(dashboard);
  return new Promise((resolve, reject) => {
    let printed = "";
    dashboard.stdout.on("data", (chunk) => {
      printed += chunk;
      const url = printed.match(/open (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32})/);
      if (url) resolve(url[1]);
    });
    dashboard.on("exit", (code) => reject(new Error(`fastgpu dashboard exited (${code}) before printing its address: ${printed}`)));
    setTimeout(() => reject(new Error(`fastgpu dashboard printed no address in 30 s: ${printed}`)), 30000);
  });
}

// The text of a table's body rows, one string per row.
async function rows(page, table) {
  return page.$$eval(`#${table} tbody tr`, (trs) => trs.map((tr) => tr.innerText.replace(/\s+/g, " ").trim()));
}

async function until(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

try {
  // Jobs in every state the page shows: one ended with output, one running, one queued
  // behind it, and one whose name is markup (it must show as text).
  const done = cli("submit", "--name", "done-job", "--gpus", "1", "--gpu-mem", "1G", "--", "sh", "-c", "echo hello from done-job");
  cli("wait", done);
  const markup = cli("submit", "--name", "<b>bold</b>", "--gpus", "0", "--", "true");
  cli("wait", markup);
  const running = cli("submit", "--name", "long-job", "--gpus", "1", "--gpu-mem", "2G", "--time", "10m", "--", "sh", "-c", "echo tick; exec sleep 300");
  const queued = cli("submit", "--name", "blocked", "--gpus", "2", "--gpu-mem", "30G", "--", "true");
  // Declared "auto" (no bytes): shown as the CLI shows it, not "-" (which reads "does not apply").
  const learned = cli("submit", "--name", "learned", "--gpus", "1", "--gpu-mem", "auto", "--after", running, "--", "true");

  const url = await startDashboard();
  browser = await chromium.launch({ executablePath: browserPath, headless: true, args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1600, height: 800 } });
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });

  await page.goto(url);
  assert.equal(new URL(page.url()).search, "", "the token leaves the address bar");
  await page.waitForFunction(() => Number(document.body.dataset.refreshed || 0) >= 1, null, { timeout: 20000 });

  // The GPUs, as the daemon reads them.
  const gpus = await rows(page, "gpus");
  assert.equal(gpus.length, 2, `two GPUs: ${gpus}`);
  assert.match(gpus[0], /A100/);
  assert.match(await page.textContent("#gpus-source"), /simulated/);

  // The running, queued and ended jobs.
  await until("long-job running", async () => (await rows(page, "running")).some((row) => row.startsWith(`${running} long-job`)));
  const holding = await page.$$eval("#gpus tbody tr", (trs) => trs.map((tr) => tr.children[8].innerText));
  assert.equal(holding.filter((jobs) => jobs === `${running} long-job`).length, 1, `long-job on one GPU: ${holding}`);
  assert.equal(holding.filter((jobs) => jobs === "-").length, 1, `the other GPU holds none of your jobs: ${holding}`);
  // What a job may still ask of each: nothing of long-job's (it holds it whole), all of the other.
  const free = await until("the GPUs' free room", async () => {
    const shown = await page.$$eval("#gpus tbody tr", (trs) => trs.map((tr) => tr.children[9].innerText));
    return shown.includes("none until a job ends") ? shown : null;
  });
  assert.deepEqual(free.map((text, i) => [holding[i] === "-", text]).sort(),
    [[false, "none until a job ends"], [true, "40.0 GiB, whole GPU"]], `free: ${free}`);
  const waiting = await until("blocked queued with a reason", async () =>
    (await rows(page, "queued")).find((row) => row.startsWith(`${queued} blocked`) && !row.endsWith(" -")));
  assert.match(waiting, /2 wanted 30\.0 GiB \d+s /, "how long it has waited");
  assert.match((await rows(page, "queued")).find((row) => row.startsWith(`${learned} learned`)), /1 wanted auto /);
  // Numbers are right-aligned under headers aligned the same way.
  assert.deepEqual(await page.$$eval("#ended thead th", (ths) => ths.map((th) => getComputedStyle(th).textAlign)),
    ["right", "left", "left", "right", "right", "right", "right", "right"]);
  const ended = await rows(page, "ended");
  assert.ok(ended[0].startsWith(`${markup} <b>bold</b> COMPLETED`), `newest first, the name as text: ${ended}`);
  assert.ok(ended[1].startsWith(`${done} done-job COMPLETED`), `${ended}`);
  assert.equal(await page.$$eval("#ended b", (found) => found.length), 0, "no markup from a job's name");

  // One job's figures and log.
  await page.click(`#ended tr[data-id="${done}"]`);
  await until("done-job's log", async () => (await page.textContent("#job-log")).includes("hello from done-job"));
  assert.match(await page.textContent("#job-fields"), /exit\s*0/);
  assert.equal(await page.isVisible("#job-cancel"), false, "an ended job has no cancel");
  // Run again: asked first, then the panel shows the new job, queued as the first was
  // submitted (behind blocked, which waits for long-job's GPU; cancelled here, not needed).
  page.once("dialog", (dialog) => dialog.accept());
  await page.click("#job-again");
  await until("the new job's panel", async () => !["", done].includes(await page.textContent("#job-id")));
  const again = await page.textContent("#job-id");
  await until("its fields", async () => /name\s*done-job/.test(await page.textContent("#job-fields")));
  assert.match(await page.textContent("#job-fields"), new RegExp(`runs again\\s*job ${done}`));
  const shownAgain = cli("show", again);
  assert.match(shownAgain, new RegExp(`resubmitted:\\s+from job ${done} `), shownAgain);
  assert.match(shownAgain, /command:\s+sh -c 'echo hello from done-job'/, shownAgain);
  assert.match(shownAgain, /gpus:\s+1 x 1\.0 GiB per GPU/, shownAgain);
  cli("cancel", again);
  await page.click(`#ended tr[data-id="${done}"]`);
  await until("done-job's panel again", async () => (await page.textContent("#job-id")) === done);
  await until("the job that ran it again", async () =>
    new RegExp(`run again as\\s*job ${again}`).test(await page.textContent("#job-fields")));
  // A CPU-only job's GPU figures do not apply: "-", as `fastgpu show` says, not n/a.
  await page.click(`#ended tr[data-id="${markup}"]`);
  await until("the CPU job's panel", async () => /GPUs\s*none \(CPU\)/.test(await page.textContent("#job-fields")));
  const cpuFields = await page.textContent("#job-fields");
  assert.match(cpuFields, /peak GPU memory\s*-\s*mean GPU utilization\s*-\s*energy\s*-/, cpuFields);
  // In a window 400 px wide the panel covers the page, and every value is inside it.
  await page.setViewportSize({ width: 400, height: 900 });
  const outside = await page.$$eval("#job-fields dd", (dds) =>
    dds.map((dd) => dd.getBoundingClientRect()).filter((box) => box.right > 400 || box.width < 100).length);
  assert.equal(outside, 0, "each value inside a 400 px window, with room to be read");
  await page.setViewportSize({ width: 1600, height: 800 });
  // A queued job is held and released from its panel, as `fastgpu hold` and `release` do.
  await page.click(`#queued tr[data-id="${queued}"]`);
  await until("blocked's panel", async () => /state\s*QUEUED/.test(await page.textContent("#job-fields")));
  assert.equal(await page.isVisible("#job-release"), false, "not held: nothing to release");
  await page.click("#job-hold");
  await until("blocked held", async () => /"held_by": \d+/.test(cli("show", queued, "--json")));
  await until("its panel offers the release", async () => page.isVisible("#job-release"));
  assert.equal(await page.isVisible("#job-hold"), false);
  await until("its panel says why it waits", async () => /waiting for\s*held/.test(await page.textContent("#job-fields")));
  await page.click("#job-release");
  await until("blocked released", async () => /"held_by": null/.test(cli("show", queued, "--json")));
  await until("its panel offers a hold again", async () => page.isVisible("#job-hold"));
  await page.click(`#running tr[data-id="${running}"]`);
  await until("long-job's log", async () => (await page.textContent("#job-log")).trim() === "tick");
  const fields = await page.textContent("#job-fields");
  assert.match(fields, /running for/);
  assert.match(fields, /time limit\s*10m00s \(SIGTERM in \d+m\d\ds\)/, "when the running job's limit ends it");
  assert.match(fields, /command\s*sh -c 'echo tick; exec sleep 300'/, "the command as a shell reads it");
  assert.match((await rows(page, "running"))[0], /GPU \d/);
  assert.doesNotMatch(await page.textContent("#job-log"), /hello/, "the log is the selected job's alone");
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  // A cancel from the job's panel asks first: declined, the job runs on.
  assert.equal(await page.isVisible("#job-cancel"), true, "a running job can be cancelled");
  const asked = [];
  page.once("dialog", (dialog) => {
    asked.push(dialog.message());
    dialog.dismiss();
  });
  await page.click("#job-cancel");
  await until("the question asked", async () => asked.length === 1);
  assert.match(asked[0], new RegExp(`^Cancel job ${running} \\(long-job\\)\\? Its processes get SIGTERM`), asked[0]);
  const refreshes = await page.evaluate(() => Number(document.body.dataset.refreshed));
  await page.waitForFunction((seen) => Number(document.body.dataset.refreshed) >= seen + 2, refreshes, { timeout: 20000 });
  assert.match(cli("show", running), /state:\s+RUNNING/, "declined: still running");
  // A POST of the cancel without the page's header (what a form of another site would
  // send with the cookie, were it not SameSite) is refused and cancels nothing.
  const errorsBefore = errors.length;
  const forged = await page.evaluate(async (id) => {
    const response = await fetch(`/v1/jobs/${id}/cancel`, { method: "POST" });
    return { status: response.status, body: await response.json() };
  }, running);
  assert.equal(forged.status, 403, JSON.stringify(forged));
  assert.match(forged.body.error, /X-FastGPU-Dashboard/);
  // The browser logs the refusal it was answered: that one, and no other, is expected.
  assert.ok(errors.slice(errorsBefore).every((error) => /status of 403/.test(error)), `${errors}`);
  errors.splice(errorsBefore);
  assert.match(cli("show", running), /state:\s+RUNNING/, "the forged cancel did nothing");
  // Accepted: the job ends, its panel says so and offers no cancel, and the queued one
  // starts and ends.
  page.once("dialog", (dialog) => dialog.accept());
  await page.click("#job-cancel");
  await until("long-job cancelled", async () => (await rows(page, "ended")).some((row) => row.startsWith(`${running} long-job CANCELLED`)));
  await until("its panel says so", async () => /state\s*CANCELLED/.test(await page.textContent("#job-fields")));
  assert.equal(await page.isVisible("#job-cancel"), false);
  assert.match(cli("show", running), new RegExp(`reason:\\s+cancelled by ${userInfo().username} \\(killed by SIGTERM\\)`));
  await until("blocked completed", async () => (await rows(page, "ended")).some((row) => row.startsWith(`${queued} blocked COMPLETED`)));
  assert.deepEqual(await rows(page, "running"), ["nothing running"]);
  await page.click("#job-close");
  assert.equal(await page.isVisible("#job"), false);

  // Usage: the jobs that ended in the last 7 days, summed up by name: done-job, and its run
  // again, cancelled above. Simulated GPUs measure no memory or energy ("n/a"); done-job had
  // no time limit ("-").
  await until("done-job summed up", async () =>
    (await rows(page, "usage")).some((row) => /^done-job 2 1 0 0 1 \S+ n\/a n\/a -$/.test(row)));
  assert.ok((await rows(page, "usage")).some((row) => row.startsWith("<b>bold</b> 1 1 0 0 0 ")),
    "a name as text, a CPU job's GPU figures as -");
  // Under it, the daemon's advice as `fastgpu report` prints it: a run that took a sliver of
  // its time limit is told a --time nearer the run.
  cli("submit", "--name", "limited", "--time", "1h", "--gpus", "0", "--wait", "--", "true");
  await until("limited's advice", async () =>
    /^limited: the runs took 0 % of their time limits \(longest run [^,]+, longest limit 1h00m\); --time 1m would let backfill start them sooner$/m
      .test(await page.textContent("#usage-hints")));

  // GPU time by day: 14 columns, today last; today's counts the jobs that `fastgpu report
  // --by day` counts for it (the CLI and the browser read the same time zone), with its GPU
  // time over the bar, and the 13 days before have none (this daemon is new).
  const two = (n) => String(n).padStart(2, "0");
  const now = new Date();
  const today = `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}`;
  const dayColumns = () => page.$$eval("#usage-days .day", (columns) => columns.map((column) => ({
    day: column.dataset.day, value: column.querySelector(".day-value").textContent,
    jobs: column.querySelector(".day-jobs").textContent, title: column.title,
    failed: column.querySelector(".day-failed")?.textContent ?? null,
    height: column.querySelector(".day-bar > span").getBoundingClientRect().height })));
  await until("today's column counts what report --by day counts", async () => {
    const group = JSON.parse(cli("report", "--by", "day", "--since", "1d", "--json")).groups.find((g) => g.day === today);
    const columns = await dayColumns();
    const last = columns[columns.length - 1];
    return group && columns.length === 14 && last.day === today && last.jobs === `${group.jobs} jobs` &&
      last.title.startsWith(`${today}: ${group.jobs} jobs ended (`) &&
      last.failed === (group.states.FAILED + group.states.TIMEOUT > 0 ? `${group.states.FAILED + group.states.TIMEOUT} failed` : null);
  });
  const columns = await dayColumns();
  const last = columns[columns.length - 1];
  assert.match(last.value, /^\d+[smhd]/, "today's GPU time over its bar");
  assert.ok(last.height > 20, `today, the only day with GPU time, fills the bar (${last.height}px)`);
  for (const column of columns.slice(0, -1)) {
    assert.deepEqual([column.value, column.jobs, column.failed, column.height], ["", "-", null, 0], `nothing ended on ${column.day}`);
    assert.equal(column.title, `${column.day}: no job ended`);
  }
  assert.deepEqual(columns.map((column) => column.day), [...columns.map((column) => column.day)].sort(), "the days in order");

  // A long queue shows your first 100 by id, and says so; a job that never ran has no
  // figures ("-", not n/a).
  const holder = cli("submit", "--name", "holder", "--gpus", "1", "--gpu-mem", "1G", "--", "sleep", "300");
  const many = cli("submit", "--name", "many", "--array", "0-119", "--gpus", "2", "--gpu-mem", "30G", "--", "true").split("\n");
  assert.equal(many.length, 120);
  await until("the long queue", async () => (await rows(page, "queued")).length === 100);
  // A refresh reads the counts and the list in parallel: one that began before the submit
  // ended may show the list and an older count, and the next refresh shows both.
  await until("the long queue's count", async () =>
    /your first 100 by id; 120 queued in all/.test(await page.textContent("#queued-count")));
  assert.match(await page.textContent("#queued-count"), /your first 100 by id; 120 queued in all/);
  cli("cancel", ...many);
  await until("the long queue cancelled", async () => (await rows(page, "queued"))[0] === "nothing queued");
  assert.match((await rows(page, "ended"))[0], /^\d+ many\[119\] CANCELLED - - - - -$/);
  // The latest end first, not the highest id: holder, submitted before them, ends after.
  cli("cancel", holder);
  await until("holder listed first", async () => (await rows(page, "ended"))[0].startsWith(`${holder} holder CANCELLED`));
  assert.match((await rows(page, "ended"))[1], /^\d+ many\[119\] CANCELLED - - - - -$/);

  // The days strip reads days across summer time as `report --by day` does: the browser's
  // zone's changes of offset, each to the second.
  const berlin = await browser.newPage({ timezoneId: "Europe/Berlin" });
  await berlin.goto(await startDashboard());
  await berlin.waitForFunction(() => Number(document.body.dataset.refreshed || 0) >= 1, null, { timeout: 20000 });
  assert.equal(await berlin.evaluate(() => utcOffsetsQuery(Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1))),
    "&utc_offset_s=3600&utc_offset_changes=1774746000000000:7200,1792890000000000:3600");
  assert.ok(!(await berlin.isVisible("#problem")), await berlin.textContent("#problem"));
  await berlin.close();

  // Root's view of every user's jobs names each job's user; anyone else is refused.
  if (process.getuid() === 0) {
    const everyone = await browser.newPage();
    await everyone.goto(await startDashboard("--all-users"));
    await everyone.waitForFunction(() => Number(document.body.dataset.refreshed || 0) >= 1, null, { timeout: 20000 });
    assert.match((await rows(everyone, "ended"))[0], /^\d+ holder \(root\) CANCELLED/);
    assert.deepEqual(await everyone.$$eval("[data-your]", (found) => found.map((element) => element.textContent)),
      ["Jobs", "Ended: the last 15 to end", "Usage by user: jobs that ended in the last 7 days", "User",
        "Every user's GPU time by day: the last 14 days"]);
    assert.deepEqual(await page.$$eval("[data-your]", (found) => found.map((element) => element.textContent)),
      ["Your jobs", "Ended: your last 15 to end", "Your usage by name: jobs that ended in the last 7 days", "Name",
        "Your GPU time by day: the last 14 days"],
      "the first dashboard still shows yours");
    assert.match((await rows(everyone, "usage"))[0], /^root \d+ /, "every user's usage by user");
    await everyone.close();
  } else {
    assert.throws(() => cli("dashboard", "--all-users"), /only root sees other users' jobs/);
  }

  // (From here on the browser logs the 502s it is answered.)
  assert.deepEqual(errors, [], "no script error on the page");

  // A daemon that stops shows as a problem, naming its socket; the page keeps asking.
  cli("daemon", "stop");
  const problem = await until("the problem shown", async () => (await page.isVisible("#problem")) && page.textContent("#problem"));
  assert.match(problem, /fastgpu\.sock|socket/, problem);

  // A daemon on GPUs read through the real NVML loading code (over the fake NVML library)
  // takes its place, and the page recovers by itself: a field the driver cannot read is
  // n/a, not 0, and a GPU fallen off the bus is unhealthy, saying why.
  const state = join(work, "nvml-state.json");
  writeFileSync(state, JSON.stringify({ driver_version: "580.65.06", gpus: [
    { name: "NVIDIA H100 80GB HBM3", uuid: "GPU-0", pci_bus_id: "00000000:18:00.0", memory_total: 85520809984,
      memory_reserved: 559939584, memory_used: 21474836480, memory_free: 63486033920, utilization_gpu: 87, utilization_memory: 41,
      power_mw: 250000, energy_mj: 8123456789, temperature_c: 61, processes: [] },
    { name: "NVIDIA H100 80GB HBM3", uuid: "GPU-1", pci_bus_id: "00000000:2A:00.0", memory_total: 85520809984,
      memory_reserved: 559939584, memory_used: 0, memory_free: 84961918976, utilization_gpu: 0, utilization_memory: 0,
      temperature_c: 33, processes: [] },
    { name: "NVIDIA H100 80GB HBM3", uuid: "GPU-2", pci_bus_id: "00000000:3B:00.0", lost: true }] }));
  const nvmlEnv = { ...env, FASTGPU_NVML_LIBRARY: fakeNvml, FASTGPU_FAKE_NVML_STATE: state };
  delete nvmlEnv.FASTGPU_DEVICES;
  cliWith(nvmlEnv, "daemon", "start");
  await until("the page recovered", async () => !(await page.isVisible("#problem")) && (await rows(page, "gpus")).length === 3);
  assert.match(await page.textContent("#gpus-source"), /^\((\S+, )?driver 580\.65\.06\)$/);
  const read = await rows(page, "gpus");
  // Free for a job: the memory less the driver's reserve (534 MiB), and on GPU 0 less the
  // 20 GiB in use that no listed process accounts for.
  assert.match(read[0], /^0 NVIDIA H100 80GB HBM3 20\.0 GiB of 79\.6 GiB 87 % 250 W 61 °C 0 - 59\.1 GiB, whole GPU healthy$/, read[0]);
  assert.match(read[1], /^1 NVIDIA H100 80GB HBM3 0 MiB of 79\.6 GiB 0 % n\/a 33 °C 0 - 79\.1 GiB, whole GPU healthy$/, read[1]);
  assert.match(read[2], / - none: unhealthy /, read[2]);
  // Each GPU's last minutes, from the daemon's samples: GPU 0's utilization (87 %) and
  // memory lines; nothing drawn for what a lost GPU could not report.
  const lines = await until("GPU 0's history drawn", async () => {
    const found = await page.$$eval('#gpus tr[data-index="0"] svg.spark polyline', (all) =>
      all.map((line) => ({ kind: line.getAttribute("class"), points: line.getAttribute("points").split(" ") })));
    return found.length === 2 && found.every((line) => line.points.length >= 2) && found;
  });
  const utilHeight = Number(lines.find((line) => line.kind === "util").points[0].split(",")[1]);
  assert.ok(Math.abs(utilHeight - (28 - 0.87 * 26 - 1)) < 0.2, `87 % drawn at its height: ${utilHeight}`);
  assert.equal(await page.$$eval('#gpus tr[data-index="2"] svg.spark polyline', (all) => all.length), 0);
  if (screenshot) await page.screenshot({ path: screenshot.replace(/\.png$/, "-nvml.png"), fullPage: true });
  const lost = await page.$eval('#gpus tr[data-index="2"] td:last-child', (td) => ({ text: td.innerText, className: td.className }));
  assert.match(lost.className, /unhealthy/);
  assert.notEqual(lost.text.trim(), "", "a lost GPU says why");
  assert.doesNotMatch(read[2], / 0 W /, `nothing read of a lost GPU shows as 0: ${read[2]}`);
  cliWith(nvmlEnv, "daemon", "stop");

  // Another browser, without the token, sees nothing of the jobs.
  const stranger = await browser.newPage();
  const origin = new URL(url).origin;
  const refused = await stranger.goto(`${origin}/`);
  assert.equal(refused.status(), 401);
  assert.doesNotMatch(await stranger.content(), /long-job|done-job/);
  const api = await stranger.goto(`${origin}/v1/jobs`);
  assert.equal(api.status(), 401);

  console.log("dashboard: every check passed");
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
