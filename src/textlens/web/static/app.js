// textlens pages: keep the OCR bar and job boxes current, and confirm destructive forms.
// Everything works without this script; it only saves reloading by hand.
"use strict";

function duration(seconds) {
  if (seconds < 90) return seconds + " s";
  if (seconds < 5400) return Math.round(seconds / 60) + " min";
  return (seconds / 3600).toFixed(1) + " h";
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(url + ": " + response.status);
  return response.json();
}

function describeScanner(s) {
  let text;
  if (s.state === "scanning") {
    text = "OCR running: " + s.done + " of " + s.total + " pages";
    if (s.eta_seconds !== null) text += ", about " + duration(s.eta_seconds) + " left";
  } else if (s.state === "paused") text = "OCR paused";
  else if (s.state === "off") text = "Background OCR is off (Settings)";
  else if (s.state === "busy") text = "Another textlens process is scanning this library";
  else text = "OCR idle";
  const a = s.library && s.library.attachments;
  if (a) {
    text += " · files: " + a.done + " done, " + (a.pending + a.running) + " to do";
    if (a.failed) text += ", " + a.failed + " failed";
  }
  for (const j of s.jobs || []) {
    text += " · " + j.label;
    if (j.state === "running" && j.total) text += ": " + j.done + " of " + j.total;
    else if (j.state === "queued") text += " (queued)";
  }
  if (s.error) text += " · " + s.error;
  return text;
}

async function pollScanner() {
  const bar = document.getElementById("scanner");
  if (!bar) return;
  try {
    const s = await getJSON("/api/scanner");
    bar.className = "scanner state-" + s.state;
    bar.dataset.state = s.state;
    document.getElementById("scanner-text").textContent = describeScanner(s);
    const progress = document.getElementById("scanner-progress");
    progress.hidden = s.state !== "scanning";
    progress.max = s.total || 1;
    progress.value = s.done;
    const toggle = document.getElementById("scanner-toggle");
    toggle.textContent = s.paused ? "Resume OCR" : "Pause OCR";
    toggle.form.action = s.paused ? "/scanner/resume" : "/scanner/pause";
  } catch (e) { /* the server restarting: try again next time */ }
  setTimeout(pollScanner, 2000);
}

async function pollJob() {
  const box = document.getElementById("job");
  if (!box || !["queued", "running"].includes(box.dataset.state)) return;
  try {
    const job = await getJSON("/api/jobs/" + box.dataset.jobId);
    if (job.state === "done" || job.state === "failed") {
      window.location.reload();  // the server renders the outcome
      return;
    }
    box.dataset.state = job.state;
    if (job.state === "running") {
      document.getElementById("job-text").textContent =
        "Running: " + job.done + " of " + (job.total || "?") + " done";
      const progress = document.getElementById("job-progress");
      progress.max = job.total || 1;
      progress.value = job.done;
    }
  } catch (e) { /* try again */ }
  setTimeout(pollJob, 1000);
}

document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

document.addEventListener("DOMContentLoaded", () => {
  setTimeout(pollScanner, 2000);
  setTimeout(pollJob, 1000);
});
