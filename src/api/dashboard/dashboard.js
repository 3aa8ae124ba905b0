// The FastGPU dashboard: reads the daemon's API through the dashboard server (the same
// origin) every two seconds and shows it. Every value is written as text, never as markup:
// job names and log lines are whatever the user wrote.
"use strict";

const REFRESH_MS = 2000;
const ENDED_SHOWN = 15;
const QUEUED_SHOWN = 100;
const LOG_KEPT_CHARS = 64 * 1024;
const ENDED_STATES = "COMPLETED,FAILED,CANCELLED,TIMEOUT";

// ---- formatting: a value the daemon could not measure is null and reads "n/a", never 0 ----

// A field the daemon left null (not measured) or did not send.
function missing(value) {
  return value === null || value === undefined;
}

function percent(value) {
  return missing(value) ? "n/a" : `${value.toFixed(0)} %`;
}

function bytes(value) {
  if (missing(value)) return "n/a";
  const gib = value / 2 ** 30;
  if (gib >= 1) return `${gib.toFixed(gib >= 100 ? 0 : 1)} GiB`;
  return `${(value / 2 ** 20).toFixed(0)} MiB`;
}

function duration(seconds) {
  if (missing(seconds) || !isFinite(seconds)) return "n/a";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, "0")}h`;
}

function energy(accounting) {
  if (!accounting) return "n/a";
  const joules = accounting.energy_joules;
  const atLeast = accounting.energy_at_least_joules;
  const text = (j) => (j >= 1e6 ? `${(j / 1e6).toFixed(2)} MJ` : j >= 1e3 ? `${(j / 1e3).toFixed(1)} kJ` : `${j.toFixed(0)} J`);
  if (!missing(joules)) return text(joules) + (accounting.energy_is_estimate ? " (estimate)" : "");
  if (!missing(atLeast)) return `>= ${text(atLeast)}`;
  return "n/a";
}

function orNa(value, unit = "") {
  return missing(value) ? "n/a" : `${value}${unit}`;
}

// Every user's jobs (`fastgpu dashboard --all-users`, root): each job is named with its user.
let allUsers = false;

function jobName(job) {
  const name = (job.spec && job.spec.name) || "-";
  const array = job.spec && job.spec.array;
  const shown = array && array.index !== undefined ? `${name}[${array.index}]` : name;
  return allUsers ? `${shown} (${job.user})` : shown;
}

function gpuCount(job) {
  const spec = job.spec || {};
  if (job.placed_gpus && job.placed_gpus.length) {
    return `${job.placed_gpus.length === 1 ? "GPU" : "GPUs"} ${job.placed_gpus.join(",")}`;
  }
  return spec.gpus === 0 ? "none (CPU)" : `${spec.gpus} wanted`;
}

function memoryPerGpu(job) {
  if (job.placed_gpu_mem !== null && job.placed_gpu_mem !== undefined) return bytes(job.placed_gpu_mem);
  const spec = job.spec || {};
  const mem = spec.gpu_mem;
  // No bytes declared: a GPU job's "auto" (learned from its name's history), as the CLI says.
  if (missing(mem)) return spec.gpus === 0 ? "-" : "auto";
  return typeof mem === "number" ? bytes(mem) : String(mem);
}

// A time of day as the page's header writes it (local), from microseconds since the epoch.
function clockTime(us) {
  return missing(us) ? "n/a" : new Date(us / 1000).toLocaleTimeString();
}

// An argument as a shell would need it written to read it back.
function shellWord(word) {
  return /^[A-Za-z0-9_@%+=:,.\/-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

function secondsSince(us) {
  return missing(us) ? null : (Date.now() * 1000 - us) / 1e6;
}

function secondsBetween(fromUs, toUs) {
  return missing(fromUs) || missing(toUs) ? null : (toUs - fromUs) / 1e6;
}

// ---- each GPU's last minutes, from the daemon's samples ----

const HISTORY_S = 600;
const SVG = "http://www.w3.org/2000/svg";
// GPU index -> {at: [µs], util: [% or null], memory: [bytes or null]}, oldest first.
const gpuHistory = new Map();
let lastSampleUs = null;

// The samples since the last ones read (the last HISTORY_S seconds at first); older ones
// are dropped.
async function refreshHistory() {
  const after = lastSampleUs === null ? "" : `&after_us=${lastSampleUs}`;
  const answer = await get(`/v1/gpus/samples?seconds=${HISTORY_S}${after}`);
  for (const gpu of answer.gpus || []) {
    if (!gpuHistory.has(gpu.index)) gpuHistory.set(gpu.index, { at: [], util: [], memory: [] });
    const kept = gpuHistory.get(gpu.index);
    kept.at.push(...gpu.at_us);
    kept.util.push(...gpu.util_percent);
    kept.memory.push(...gpu.memory_used_bytes);
    for (const at of gpu.at_us) lastSampleUs = Math.max(lastSampleUs ?? at, at);
  }
  const oldest = answer.to_us - HISTORY_S * 1e6;
  for (const kept of gpuHistory.values()) {
    let drop = 0;
    while (drop < kept.at.length && kept.at[drop] < oldest) ++drop;
    for (const column of [kept.at, kept.util, kept.memory]) column.splice(0, drop);
  }
  return answer.to_us;
}

// A line of `values` (each 0..1, or null where not read: the line breaks there) over the
// last HISTORY_S seconds up to `toUs`.
function sparkLines(svg, className, at, values, toUs, width, height) {
  let points = [];
  const flush = () => {
    if (points.length >= 2) {
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("class", className);
      line.setAttribute("points", points.join(" "));
      svg.appendChild(line);
    }
    points = [];
  };
  for (let i = 0; i < at.length; ++i) {
    if (missing(values[i])) {
      flush();
      continue;
    }
    const x = width - ((toUs - at[i]) / (HISTORY_S * 1e6)) * width;
    const y = height - Math.min(1, Math.max(0, values[i])) * (height - 2) - 1;
    points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  }
  flush();
}

// SM utilization (blue) and memory used of total (orange), each 0 to 100 %.
function historyCell(gpu, toUs) {
  const td = document.createElement("td");
  const kept = gpuHistory.get(gpu.index);
  const width = 160;
  const height = 28;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const title = document.createElementNS(SVG, "title");
  title.textContent = "SM utilization (blue) and memory used (orange) over the last 10 minutes, 0-100 %";
  svg.appendChild(title);
  if (kept && toUs !== null) {
    const total = gpu.memory_total_bytes;
    sparkLines(svg, "util", kept.at, kept.util.map((u) => (missing(u) ? null : u / 100)), toUs, width, height);
    sparkLines(svg, "memory", kept.at, kept.memory.map((m) => (missing(m) || !total ? null : m / total)), toUs, width, height);
  }
  td.appendChild(svg);
  return td;
}

// ---- the DOM, built from text ----

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function meter(fraction, label) {
  const td = document.createElement("td");
  const outer = document.createElement("span");
  outer.className = "meter";
  const inner = document.createElement("span");
  inner.style.width = `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
  outer.appendChild(inner);
  td.appendChild(outer);
  td.appendChild(document.createTextNode(label));
  return td;
}

function fillTable(id, rows, emptyText, columns) {
  const body = document.querySelector(`#${id} tbody`);
  const fresh = document.createElement("tbody");
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = cell(emptyText);
    td.colSpan = columns;
    tr.appendChild(td);
    fresh.appendChild(tr);
  }
  for (const row of rows) fresh.appendChild(row);
  body.replaceWith(fresh);
}

function jobRow(job, cells) {
  const tr = document.createElement("tr");
  tr.className = "job" + (job.id === selected ? " selected" : "");
  tr.dataset.id = String(job.id);
  for (const td of cells) tr.appendChild(td);
  tr.addEventListener("click", () => openJob(job.id));
  return tr;
}

// ---- the daemon's API ----

class ApiError extends Error {}

async function get(target) {
  return call(target, { cache: "no-store" });
}

// A job's cancel, hold, release or run again, the page's writes: each carries the
// header that tells the dashboard server the page sent it (a page of another site cannot).
async function post(target) {
  return call(target, { method: "POST", cache: "no-store", headers: { "X-FastGPU-Dashboard": "write" } });
}

async function call(target, options) {
  let response;
  try {
    response = await fetch(target, options);
  } catch (error) {
    throw new ApiError(`the dashboard server does not answer (${error.message}); is \`fastgpu dashboard\` still running?`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (response.status === 401) {
    throw new ApiError("this browser has no dashboard token: open the address `fastgpu dashboard` printed, with its ?token=");
  }
  if (!response.ok) {
    const message = body && body.error ? body.error : `HTTP ${response.status}`;
    throw new ApiError(`${target}: ${message}`);
  }
  return body;
}

// ---- the sections ----

function showDaemon(daemon) {
  const counts = daemon.jobs || {};
  const parts = [`daemon pid ${daemon.pid}`, `up ${duration(daemon.uptime_s)}`, `policy ${daemon.policy}`,
    `strategy ${daemon.strategy}`];
  document.getElementById("daemon").textContent = parts.join(" · ");
  document.getElementById("ended-count").textContent =
    `(every user: ${counts.COMPLETED || 0} completed, ${counts.FAILED || 0} failed, ${counts.TIMEOUT || 0} timed out, ${counts.CANCELLED || 0} cancelled)`;
}

// Your running jobs on each GPU, by GPU index: "12 train, 13 eval".
function jobsByGpu(jobs) {
  const byGpu = new Map();
  for (const job of jobs) {
    if (job.state !== "RUNNING") continue;
    for (const index of job.placed_gpus || []) {
      if (!byGpu.has(index)) byGpu.set(index, []);
      byGpu.get(index).push(`${job.id} ${jobName(job)}`);
    }
  }
  return byGpu;
}

// What a job starting now may still ask of a GPU, by the daemon's ledger of it:
// "40.0 GiB, whole GPU", "12.0 GiB, share ≤ 0.25", "none until a job ends".
function freeOnGpu(ledger) {
  if (!ledger) return "-";
  if (!ledger.open) return ledger.gone ? "none: no longer listed" : "none: unhealthy";
  if (ledger.free_share <= 0) return "none until a job ends";
  if (ledger.free_bytes === 0) return "none: its memory is all held";
  const share = ledger.free_share >= 1 ? "whole GPU" : `share ≤ ${Number(ledger.free_share.toFixed(3))}`;
  return `${bytes(ledger.free_bytes)}, ${share}`;
}

function showGpus(reading, byGpu, historyTo) {
  document.getElementById("gpus-source").textContent =
    reading.source === "simulated" ? "(simulated: not hardware)" :
      `(${[reading.host, `driver ${reading.driver_version || "n/a"}`].filter(Boolean).join(", ")})`;
  document.getElementById("gpus-note").textContent = reading.note || "";
  const rows = (reading.devices || []).map((gpu) => {
    const tr = document.createElement("tr");
    tr.dataset.index = String(gpu.index);
    const used = gpu.memory_used_bytes;
    const total = gpu.memory_total_bytes;
    tr.appendChild(cell(String(gpu.index), "num"));
    tr.appendChild(cell(gpu.name || "n/a"));
    if (missing(used) || !total) {
      tr.appendChild(cell(`${bytes(used)} of ${bytes(total)}`));
    } else {
      tr.appendChild(meter(used / total, `${bytes(used)} of ${bytes(total)}`));
    }
    tr.appendChild(cell(orNa(gpu.gpu_utilization_percent, " %"), "num"));
    tr.appendChild(cell(missing(gpu.power_watts) ? "n/a" : `${gpu.power_watts.toFixed(0)} W`, "num"));
    tr.appendChild(cell(orNa(gpu.temperature_celsius, " °C"), "num"));
    tr.appendChild(historyCell(gpu, historyTo));
    tr.appendChild(cell(String((gpu.processes || []).length), "num"));
    tr.appendChild(cell((byGpu.get(gpu.index) || []).join(", ") || "-", "wrap"));
    tr.appendChild(cell(freeOnGpu(gpu.ledger), "wrap"));
    // Unhealthy: why. Healthy but degraded (throttled): healthy, and why.
    const health = gpu.health || { healthy: null, reasons: [] };
    const reasons = (health.reasons || []).join("; ");
    if (health.healthy === false) {
      tr.appendChild(cell(reasons || "unhealthy", "unhealthy wrap"));
    } else if (health.healthy) {
      tr.appendChild(cell(reasons ? `healthy (${reasons})` : "healthy", "healthy wrap"));
    } else {
      tr.appendChild(cell("n/a"));
    }
    return tr;
  });
  fillTable("gpus", rows, "no GPU", 11);
}

// `queued` is the first QUEUED_SHOWN of your queued jobs by id; `counts` are every user's.
function showActive(running, queued, counts) {
  document.getElementById("running-count").textContent = `(${running.length})`;
  document.getElementById("queued-count").textContent = queued.length < QUEUED_SHOWN ? `(${queued.length})` :
    `(${allUsers ? "the" : "your"} first ${QUEUED_SHOWN} by id; ${counts.QUEUED || 0} queued in all, every user's)`;
  // Every row starts with the job's id, name, GPUs and memory per GPU.
  const row = (job, ...rest) =>
    jobRow(job, [cell(String(job.id), "num"), cell(jobName(job)), cell(gpuCount(job)), cell(memoryPerGpu(job), "num"), ...rest]);
  fillTable("running", running.map((job) => row(job,
    cell(duration(secondsSince(job.start_time_us)), "num"),
    cell(job.stopping ? `stopping (${job.stopping.cause})` : "running"),
  )), "nothing running", 6);
  fillTable("queued", queued.map((job) => row(job,
    cell(duration(secondsSince(job.submit_time_us)), "num"),
    cell(job.waiting ? job.waiting.reason : "-", "wrap"),
  )), "nothing queued", 6);
}

function showEnded(jobs) {
  fillTable("ended", jobs.map((job) => {
    const accounting = job.accounting || {};
    const named = [cell(String(job.id), "num"), cell(jobName(job)), cell(job.state, `state-${job.state}`)];
    if (missing(job.start_time_us)) {
      // It never ran (cancelled while queued): none of the figures applies.
      return jobRow(job, [...named, ...["-", "-", "-", "-", "-"].map((text) => cell(text, "num"))]);
    }
    return jobRow(job, [
      ...named,
      cell(duration(secondsBetween(job.submit_time_us, job.start_time_us)), "num"),
      cell(duration(secondsBetween(job.start_time_us, job.end_time_us)), "num"),
      cell(duration(accounting.gpu_seconds), "num"),
      // A CPU-only job has no GPU figures: "-", as the tables of the CLI print it.
      cell(job.spec && job.spec.gpus === 0 ? "-" : bytes(accounting.peak_gpu_mem), "num"),
      cell(job.spec && job.spec.gpus === 0 ? "-" : energy(accounting), "num"),
    ]);
  }), "no ended job yet", 8);
}

// Every user's ended jobs, as the daemon counts them: it moves when a job ends.
function endedCount(counts) {
  return ENDED_STATES.split(",").reduce((sum, state) => sum + (counts[state] || 0), 0);
}

// The last ENDED_SHOWN jobs to end, the latest first, read again only when a job has ended
// since (the daemon's counts of every user's ended jobs moved). The daemon finds them in its
// end-time index (`last_ended`), however many jobs have ended before.
let ended = { count: -1, jobs: [] };
async function endedJobs(counts) {
  const count = endedCount(counts);
  if (count === ended.count) return ended.jobs;
  const page = await get(`/v1/jobs?state=${ENDED_STATES}&brief=true&last_ended=${ENDED_SHOWN}`);
  const jobs = (page.jobs || []).sort((a, b) => (b.end_time_us - a.end_time_us) || (b.id - a.id));
  ended = { count, jobs };
  return jobs;
}

// ---- usage: the jobs that ended in the last days, summed up (as `fastgpu report`) ----

const USAGE_DAYS = 7;
const USAGE_EVERY_MS = 60 * 1000;
const USAGE_HINTS = 6;  // lines of advice at most, as `fastgpu report` prints
// Read again when a job has ended since (the daemon's ended counts moved), and once a
// minute as the window slides; the daemon sums up the jobs that ended in the window.
// The days strip: GPU time by day over the last TREND_DAYS days, today last, in the
// browser's time zone, each job on the day its end shows on the clock across a change to or
// from summer time (utcOffsetsQuery, as `fastgpu report --by day` sends its own).
const TREND_DAYS = 14;

// This browser's time zone from `fromMs` to `toMs`, as GET /v1/usage reads it: the offset
// east of UTC at the start (utc_offset_s) and each change since, to the second
// (utc_offset_changes): read a day at a time, each change found within its day by halving.
function utcOffsetsQuery(fromMs, toMs) {
  const offsetAt = (seconds) => -new Date(seconds * 1000).getTimezoneOffset() * 60;
  const last = Math.ceil(toMs / 1000);
  let offset = offsetAt(Math.floor(fromMs / 1000));
  const query = `&utc_offset_s=${offset}`;
  const changes = [];
  for (let day = Math.floor(fromMs / 1000); day < last;) {
    const next = day + 86400;
    if (offsetAt(next) === offset) {
      day = next;
      continue;
    }
    let before = day;
    let after = next;
    while (after - before > 1) {
      const middle = before + Math.floor((after - before) / 2);
      if (offsetAt(middle) === offset) before = middle; else after = middle;
    }
    offset = offsetAt(after);
    changes.push(`${after}000000:${offset}`);
    day = after;
  }
  return changes.length ? `${query}&utc_offset_changes=${changes.join(",")}` : query;
}
let usage = { count: -1, at: 0, report: null, days: null };
async function usageReport(counts) {
  const count = endedCount(counts);
  if (count === usage.count && Date.now() - usage.at < USAGE_EVERY_MS) return usage;
  const sinceUs = (Date.now() - USAGE_DAYS * 86400 * 1000) * 1000;
  const now = new Date();
  const firstDay = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (TREND_DAYS - 1));
  const zone = utcOffsetsQuery(firstDay.getTime(), now.getTime() + 86400 * 1000);
  const [report, days] = await Promise.all([
    get(`/v1/usage?by=${allUsers ? "user" : "name"}&ended_since_us=${sinceUs}`),
    get(`/v1/usage?by=day${zone}&ended_since_us=${firstDay.getTime() * 1000}`),
  ]);
  usage = { count, at: Date.now(), report, days };
  return usage;
}

// "2026-12-07", a local day as the daemon names it.
function dayKey(date) {
  const two = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
}

// One column a day, today last: the GPU time over a bar (the longest day's fills the
// height), the day, how many jobs ended and how many of them failed or timed out. A day
// nothing ended on is an empty column; its title says so.
function showDays(report) {
  const byDay = new Map(((report && report.groups) || []).map((group) => [group.day, group]));
  const now = new Date();
  const days = [];
  for (let back = TREND_DAYS - 1; back >= 0; --back) {
    const date = new Date(now.getFullYear(), now.getMonth(), now.getDate() - back);
    const key = dayKey(date);
    days.push({ date, key, group: byDay.get(key) });
  }
  const most = Math.max(0, ...days.map((day) => (day.group && day.group.gpu_seconds) || 0));
  const strip = document.createElement("div");
  strip.id = "usage-days";
  strip.className = "days";
  for (const { date, key, group } of days) {
    const jobs = group ? group.jobs : 0;
    const jobsText = `${jobs} ${jobs === 1 ? "job" : "jobs"}`;
    const gpuSeconds = (group && group.gpu_seconds) || 0;
    const failed = group ? group.states.FAILED + group.states.TIMEOUT : 0;
    const column = document.createElement("div");
    column.className = "day";
    column.dataset.day = key;
    const value = document.createElement("span");
    value.className = "day-value";
    value.textContent = gpuSeconds > 0 ? duration(gpuSeconds) : "";
    const bar = document.createElement("div");
    bar.className = "day-bar";
    const fill = document.createElement("span");
    // A day with any GPU time shows at least a sliver.
    fill.style.height = most > 0 && gpuSeconds > 0 ? `max(2px, ${(100 * gpuSeconds) / most}%)` : "0";
    bar.appendChild(fill);
    const label = document.createElement("span");
    label.className = "day-label";
    label.textContent = date.toLocaleDateString(undefined, { weekday: "short", day: "numeric" });
    const count = document.createElement("span");
    count.className = "day-jobs";
    count.textContent = jobs === 0 ? "-" : jobsText;
    column.append(value, bar, label, count);
    if (failed > 0) {
      const bad = document.createElement("span");
      bad.className = "day-failed";
      bad.textContent = `${failed} failed`;
      column.appendChild(bad);
    }
    const states = group
      ? Object.entries(group.states).filter(([, n]) => n > 0).map(([state, n]) => `${n} ${state}`).join(", ")
      : "";
    column.title = jobs === 0
      ? `${key}: no job ended`
      : `${key}: ${jobsText} ended (${states}), GPU time ${duration(gpuSeconds)}`;
    strip.appendChild(column);
  }
  document.getElementById("usage-days").replaceWith(strip);
}

function showUsage(report) {
  const key = report && report.by === "user" ? "user" : "name";
  const groups = (report && report.groups) || [];
  fillTable("usage", groups.map((group) => {
    const tr = document.createElement("tr");
    // "-" where a figure does not apply (no GPU job, no time limit), "n/a" where it was not
    // measured, as the CLI's report prints them.
    const cells = [
      cell(group[key] || "-", "wrap"),
      ...[group.jobs, group.states.COMPLETED, group.states.FAILED, group.states.TIMEOUT, group.states.CANCELLED]
        .map((count) => cell(String(count), "num")),
      cell(group.started === 0 ? "-" : duration(group.gpu_seconds), "num"),
      cell(group.gpu_jobs === 0 ? "-" : energy(group), "num"),
      cell(group.gpu_jobs === 0 ? "-" : percent(group.memory_used_percent), "num"),
      cell(group.time_jobs === 0 ? "-" : percent(group.time_used_percent), "num"),
    ];
    for (const td of cells) tr.appendChild(td);
    return tr;
  }), `no job ended in the last ${USAGE_DAYS} days`, 10);
  // What the runs left unused of what they reserved, and what to ask instead: the daemon's
  // lines, as `fastgpu report` prints them, the most GPU time first.
  const hints = groups.flatMap((group) => group.advice || []);
  if (hints.length > USAGE_HINTS) {
    const more = hints.length - USAGE_HINTS;
    hints.splice(USAGE_HINTS, more, `... and ${more} more such lines: \`fastgpu report --json\` has them all (each group's advice)`);
  }
  document.getElementById("usage-hints").textContent = hints.join("\n");
}

// ---- one job, with its log followed ----

let selected = null;
let shownJob = null;  // the selected job as its panel shows it, for the cancel's question
let logOffset = 0;
let logText = "";
let logBusy = false;  // one read of the log at a time, or two would append the same bytes

function field(list, name, value) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.appendChild(dt);
  list.appendChild(dd);
}

function showJob(job) {
  shownJob = job;
  document.getElementById("job-id").textContent = String(job.id);
  document.getElementById("job-cancel").hidden = !(job.state === "QUEUED" || job.state === "RUNNING") || Boolean(job.stopping);
  const held = job.state === "QUEUED" && !missing(job.held_by);
  document.getElementById("job-hold").hidden = job.state !== "QUEUED" || held;
  document.getElementById("job-release").hidden = !held;
  document.getElementById("job-again").hidden = !ENDED_STATES.split(",").includes(job.state);
  const list = document.createElement("dl");
  list.id = "job-fields";
  const spec = job.spec || {};
  field(list, "name", jobName(job));
  const stopping = job.state === "RUNNING" && job.stopping;
  field(list, "state", job.state + (stopping ? `, stopping (${job.stopping.cause})` : "") +
    (job.end_reason ? ` (${job.end_reason})` : ""));
  // A CPU-only job has no GPU figures: "-" (does not apply), as `fastgpu show` says, not n/a.
  const gpuFigure = (text) => (spec.gpus === 0 ? "-" : text);
  field(list, "command", Array.isArray(spec.argv) ? spec.argv.map(shellWord).join(" ") : String(spec.shell_command || "-"));
  if (spec.working_dir) field(list, "working directory", spec.working_dir);
  field(list, "GPUs", gpuCount(job));
  field(list, "memory per GPU", memoryPerGpu(job));
  // A running job's limit counts from its start: when SIGTERM comes, as `fastgpu show` says.
  let limit = missing(spec.time_limit_s) ? "none" : duration(spec.time_limit_s);
  const left = spec.time_limit_s - secondsSince(job.start_time_us);
  if (job.state === "RUNNING" && !missing(spec.time_limit_s) && !missing(job.start_time_us) && left > 0) {
    limit += ` (SIGTERM in ${duration(left)})`;
  }
  field(list, "time limit", limit);
  field(list, "priority", orNa(spec.priority));
  // Which job it runs again (Run again, `fastgpu resubmit`), and which ran it again.
  if (!missing(spec.resubmitted_from)) field(list, "runs again", `job ${spec.resubmitted_from}`);
  if (Array.isArray(job.resubmitted_as) && job.resubmitted_as.length > 0) {
    field(list, "run again as", job.resubmitted_as.map((id) => `job ${id}`).join(", "));
  }
  if (job.state === "QUEUED") {
    field(list, "queued for", duration(secondsSince(job.submit_time_us)));
    if (job.waiting) field(list, "waiting for", `${job.waiting.reason}: ${job.waiting.detail || ""}`);
  } else {
    field(list, "waited", duration(secondsBetween(job.submit_time_us, job.start_time_us)));
  }
  if (job.state === "RUNNING") {
    field(list, "running for", duration(secondsSince(job.start_time_us)));
    const so = job.usage_so_far || {};
    field(list, "peak GPU memory so far", gpuFigure(bytes(so.peak_gpu_mem)));
    field(list, "mean GPU utilization so far", gpuFigure(percent(so.mean_util_percent)));
    field(list, "energy so far", gpuFigure(energy({ energy_joules: so.energy_joules, energy_is_estimate: true })));
    if (stopping) {
      field(list, "stopping", `SIGTERM at ${clockTime(job.stopping.since_us)}` +
        (missing(job.stopping.kill_at_us) ? "" : `, SIGKILL at ${clockTime(job.stopping.kill_at_us)} if still running`));
    }
  } else if (job.end_time_us) {
    const accounting = job.accounting || {};
    field(list, "ran for", duration(secondsBetween(job.start_time_us, job.end_time_us)));
    field(list, "GPU time", duration(accounting.gpu_seconds));
    field(list, "peak GPU memory", gpuFigure(bytes(accounting.peak_gpu_mem)));
    field(list, "mean GPU utilization", gpuFigure(percent(accounting.mean_util_percent)));
    field(list, "energy", gpuFigure(energy(accounting)));
    field(list, "exit", job.signal ? `signal ${job.signal}` : orNa(job.exit_code));
  }
  document.getElementById("job-fields").replaceWith(list);
}

async function followLog(id) {
  if (logBusy) return;
  logBusy = true;
  let answer;
  try {
    answer = await get(`/v1/jobs/${id}/log?offset=${logOffset}`);
  } finally {
    logBusy = false;
  }
  if (selected !== id) return;
  // The file was truncated (logrotate's copytruncate): what the job writes now starts at 0.
  if (answer.truncated) {
    logOffset = 0;
    logText += "\n[the log was truncated here; following it from its start]\n";
    return;
  }
  logOffset = answer.next_offset;
  logText = (logText + (answer.data || "")).slice(-LOG_KEPT_CHARS);
  const pre = document.getElementById("job-log");
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.textContent = logText;
  if (atBottom) pre.scrollTop = pre.scrollHeight;
  const note = answer.log_missing ? "(the log file is gone)" : !answer.started ? "(the job has not run)" :
    answer.done ? "(ended)" : logText.length === LOG_KEPT_CHARS ? "(the last 64 KiB, following)" : "(following)";
  document.getElementById("job-log-note").textContent = note;
}

async function refreshJob() {
  if (selected === null) return;
  const id = selected;
  const job = await get(`/v1/jobs/${id}`);
  if (selected !== id) return;
  showJob(job);
  await followLog(id);
}

function openJob(id) {
  selected = id;
  logOffset = 0;
  logText = "";
  document.getElementById("job-log").textContent = "";
  document.getElementById("job").hidden = false;
  document.body.classList.add("panel-open");
  for (const row of document.querySelectorAll("tr.job")) row.classList.toggle("selected", row.dataset.id === String(id));
  refreshJob().catch(showProblem);
}

// Asks first: a cancelled job does not come back.
async function cancelJob() {
  const job = shownJob;
  if (job === null || selected !== job.id) return;
  const what = job.state === "RUNNING"
    ? "Its processes get SIGTERM now, and SIGKILL after the grace period."
    : "It will not run.";
  if (!window.confirm(`Cancel job ${job.id} (${jobName(job)})? ${what}`)) return;
  try {
    await post(`/v1/jobs/${job.id}/cancel`);
    await refreshJob();
  } catch (error) {
    showProblem(error);
  }
}

// A queued job kept back, or let go: nothing is lost either way, so nothing is asked.
async function holdOrRelease(verb) {
  const job = shownJob;
  if (job === null || selected !== job.id) return;
  try {
    await post(`/v1/jobs/${job.id}/${verb}`);
    await refreshJob();
  } catch (error) {
    showProblem(error);
  }
}

// Asks first: it queues a new job. The panel then shows the new one.
async function runAgain() {
  const job = shownJob;
  if (job === null || selected !== job.id) return;
  if (!window.confirm(`Run job ${job.id} (${jobName(job)}) again, as it was submitted? It is queued as a new job.`)) return;
  try {
    const answer = await post(`/v1/jobs/${job.id}/resubmit`);
    if (answer && Array.isArray(answer.ids) && answer.ids.length === 1) openJob(answer.ids[0]);
  } catch (error) {
    showProblem(error);
  }
}

function closeJob() {
  selected = null;
  shownJob = null;
  document.getElementById("job").hidden = true;
  document.body.classList.remove("panel-open");
  for (const row of document.querySelectorAll("tr.selected")) row.classList.remove("selected");
}

// ---- the refresh loop ----

function showProblem(error) {
  const box = document.getElementById("problem");
  box.textContent = error.message;
  box.hidden = false;
}

async function refresh() {
  try {
    // The queued jobs are read a page at a time: a queue of 100,000 would be megabytes
    // every refresh, for a table nobody reads to the end.
    const [daemon, gpus, running, queued] = await Promise.all([
      get("/v1/daemon"), get("/v1/gpus"), get("/v1/jobs?state=RUNNING&fields=table"),
      get(`/v1/jobs?state=QUEUED&fields=table&limit=${QUEUED_SHOWN}`),
    ]);
    const counts = daemon.jobs || {};
    const last = await endedJobs(counts);
    const summed = await usageReport(counts);
    const historyTo = await refreshHistory();
    showDaemon(daemon);
    showGpus(gpus, jobsByGpu(running.jobs || []), historyTo);
    showActive(running.jobs || [], queued.jobs || [], counts);
    showEnded(last);
    showUsage(summed.report);
    showDays(summed.days);
    await refreshJob();
    document.getElementById("problem").hidden = true;
    document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (error) {
    showProblem(error);
  }
  setTimeout(refresh, REFRESH_MS);
}

// Every user's view changes the words of the headings that say "your".
async function start() {
  try {
    allUsers = (await get("/settings.json")).all_users === true;
  } catch (error) {
    showProblem(error);
  }
  if (allUsers) {
    for (const element of document.querySelectorAll("[data-your]")) element.textContent = element.dataset.every;
  }
  refresh();
}

document.getElementById("job-close").addEventListener("click", closeJob);
document.getElementById("job-cancel").addEventListener("click", cancelJob);
document.getElementById("job-hold").addEventListener("click", () => holdOrRelease("hold"));
document.getElementById("job-release").addEventListener("click", () => holdOrRelease("release"));
document.getElementById("job-again").addEventListener("click", runAgain);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeJob();
});
start();
