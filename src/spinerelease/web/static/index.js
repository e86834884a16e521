/* Simulate page: form -> background job -> pressure map, verdict, advice, per-peak bars, breathing animation. */
"use strict";

(() => {
  const { $ } = SR;
  let busy = false;
  let anim = null;

  function toolOptions(tools) {
    return tools.map((t) => [t.id, t.builtin ? `${t.name} - ${t.description}` : `${t.name} (uploaded)`]);
  }

  async function init() {
    try {
      const { meta, tools } = await SR.loadChoices();
      SR.fillSelect($("tool"), toolOptions(tools), "pso-spine");
      SR.fillSelect($("level"), meta.levels.map((l) => [l, l]), "T7");
      SR.fillSelect($("step"), meta.steps.map((s) => [s.key, `${s.title} (${s.key})`]), "lie_back");
    } catch (e) { SR.showError(e.message); }
    $("sim-form").addEventListener("submit", (ev) => { ev.preventDefault(); simulate(); });
    $("breathe").addEventListener("click", protocol);
    $("upload").addEventListener("change", upload);
    $("breath-toggle").addEventListener("click", () => { if (anim) anim.paused = !anim.paused; $("breath-toggle").textContent = anim && anim.paused ? "Play" : "Pause"; });
  }

  function request() {
    const { values, problems } = SR.formValues($("sim-form"));
    if (problems.length) throw new Error(problems.join("; "));
    return values;
  }

  function setBusy(b) {
    busy = b;
    $("run").disabled = b; $("breathe").disabled = b;
  }

  async function simulate() {
    if (busy) return;
    SR.showError("");
    let cfg;
    try { cfg = request(); } catch (e) { SR.showError(e.message); return; }
    setBusy(true);
    try {
      const res = await SR.runJob({ kind: "simulate", config: { ...cfg, advice: true } });
      if (res) showResult(res);
    } catch (e) { SR.showError(e.message); } finally { setBusy(false); }
  }

  function showResult(res) {
    $("result").hidden = false;
    $("result-title").textContent = `${res.tool.name} at ${res.config.level}, ${res.config.step}`;
    SR.setVerdict($("verdict"), res);
    const ul = $("advice"); ul.innerHTML = "";
    for (const m of (res.advice && res.advice.messages) || []) { const li = document.createElement("li"); li.textContent = m; ul.appendChild(li); }
    SR.drawMap($("map"), res, null, $("tooltip"));
    SR.numbersTable($("numbers"), res);
    SR.peakBars($("peaks"), res);
  }

  async function protocol() {
    if (busy) return;
    SR.showError("");
    let cfg;
    try { cfg = request(); } catch (e) { SR.showError(e.message); return; }
    setBusy(true);
    try {
      const res = await SR.runJob({ kind: "protocol", config: { ...cfg, advice: false }, breathing_samples: 12 });
      if (res) showProtocol(res);
    } catch (e) { SR.showError(e.message); } finally { setBusy(false); }
  }

  function showProtocol(res) {
    $("protocol").hidden = false;
    if (res.lie_back) showResult(res.lie_back);
    const t = $("protocol-table"); t.innerHTML = "";
    const head = t.insertRow();
    for (const h of ["step", "force [N]", "peak [kPa]", "1 cm² probe [kPa]", "% pain threshold", "on spine", "verdict"]) { const th = document.createElement("th"); th.textContent = h; head.appendChild(th); }
    for (const s of res.steps) {
      const r = t.insertRow();
      for (const v of [s.title, SR.fmt(s.force_n, 1), SR.fmt(s.peak_pressure_kpa), SR.fmt(s.probe_peak_kpa), SR.pct(s.max_threshold_ratio), SR.pct(s.spinous_share, 1), s.verdict]) r.insertCell().textContent = v;
    }
    if (anim) anim.stop = true;
    if (res.breathing) animateBreathing(res.breathing);
  }

  /** Breathing animation: chest cross-section that swells with lung volume, cue text, live numbers, moving cursor. */
  function animateBreathing(b) {
    const t = b.t_s, T = t[t.length - 1] || 1;
    const vmax = Math.max(1e-9, ...b.lung_volume_l);
    const iPeak = b.lung_volume_l.indexOf(Math.max(...b.lung_volume_l));
    const tInhale = t[iPeak];
    const interp = (arr, tt) => {
      let i = 0; while (i < t.length - 2 && t[i + 1] < tt) i++;
      const f = Math.min(1, Math.max(0, (tt - t[i]) / ((t[i + 1] - t[i]) || 1)));
      return (arr[i] ?? 0) + f * ((arr[i + 1] ?? 0) - (arr[i] ?? 0));
    };
    const state = { paused: false, stop: false, tt: 0, last: performance.now() };
    anim = state;
    const canvas = $("breath-anim"), ctx = canvas.getContext("2d");
    const frame = (now) => {
      if (state.stop) return;
      if (!state.paused) state.tt = (state.tt + (now - state.last) / 1000) % T;
      state.last = now;
      const tt = state.tt, v = interp(b.lung_volume_l, tt), ratio = interp(b.max_threshold_ratio, tt);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      const cx = canvas.width / 2, cy = canvas.height / 2 + 10, rx = 70 + 18 * v / vmax, ry = 45 + 14 * v / vmax;
      ctx.fillStyle = "#f2dccb"; ctx.strokeStyle = "#8a6a55"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.ellipse(cx, cy, rx, ry, 0, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      ctx.fillStyle = "#b9d3d6"; ctx.beginPath(); ctx.ellipse(cx - 28, cy - 4, 22 + 10 * v / vmax, 26 + 8 * v / vmax, 0, 0, 7); ctx.fill();
      ctx.beginPath(); ctx.ellipse(cx + 28, cy - 4, 22 + 10 * v / vmax, 26 + 8 * v / vmax, 0, 0, 7); ctx.fill();
      const c = SR.colour(Math.min(1, ratio / 1.5));
      ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
      ctx.beginPath(); ctx.moveTo(cx - 50, cy + ry + 22); ctx.lineTo(cx + 50, cy + ry + 22); ctx.lineTo(cx + 20, cy + ry - 2); ctx.lineTo(cx - 20, cy + ry - 2); ctx.fill();
      ctx.fillStyle = "#1d2a2c"; ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "center";
      ctx.fillText("chest cross-section on the tool", cx, 14);
      $("breath-cue").textContent = tt <= tInhale ? "Breathe in..." : "...and breathe out";
      $("breath-now").textContent = `t = ${tt.toFixed(1)} s: force ${interp(b.force_n, tt).toFixed(0)} N, peak ${interp(b.peak_pressure_kpa, tt).toFixed(0)} kPa, ${(100 * ratio).toFixed(0)}% of pain threshold`;
      SR.lineChart($("breath-chart"), t, [
        { y: b.force_n, label: "force on tool [N]", colour: "#2c5d63" },
        { y: b.peak_pressure_kpa, label: "peak pressure [kPa] (right axis)", colour: "#b3261e", axis: "right" },
      ], { cursor: tt, xTitle: "time in the breath [s]", xDigits: 1 });
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  async function upload() {
    const f = $("upload").files[0];
    if (!f) return;
    SR.showError("");
    $("upload-status").textContent = "checking the file...";
    const fd = new FormData(); fd.append("file", f, f.name);
    try {
      const t = await SR.api("POST", "/api/tools/upload", fd, true);
      const tools = await SR.api("GET", "/api/tools");
      SR.fillSelect($("tool"), tools.map((x) => [x.id, x.builtin ? `${x.name} - ${x.description}` : `${x.name} (uploaded)`]), t.id);
      $("upload-status").textContent = `uploaded "${t.name}" with ${t.peaks.length} peaks; it is now selected`;
    } catch (e) { $("upload-status").textContent = ""; SR.showError(`upload refused: ${e.message}`); }
    $("upload").value = "";
  }

  document.addEventListener("DOMContentLoaded", init);
})();
