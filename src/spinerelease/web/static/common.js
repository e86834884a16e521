/* spinerelease web front end: shared helpers (no framework, no build step, no network beyond this server). */
"use strict";

const SR = (() => {
  const $ = (id) => document.getElementById(id);

  /** Call the JSON API; throw an Error carrying the server's one-sentence message. */
  async function api(method, url, body, isForm) {
    const opts = { method, headers: {} };
    if (body !== undefined) {
      if (isForm) { opts.body = body; } else { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    }
    let resp;
    try { resp = await fetch(url, opts); } catch (e) { throw new Error("the spinerelease server cannot be reached (is `spinerelease serve` still running?)"); }
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const msg = data && data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : `HTTP ${resp.status}`;
      const err = new Error(msg); err.status = resp.status; err.errors = data && data.errors; throw err;
    }
    return data;
  }

  function showError(msg) {
    const el = $("error");
    if (!el) return;
    if (msg) { el.textContent = msg; el.hidden = false; } else { el.textContent = ""; el.hidden = true; }
  }

  function fillSelect(sel, options, selected) {
    sel.innerHTML = "";
    for (const [value, label] of options) {
      const o = document.createElement("option");
      o.value = value; o.textContent = label;
      if (value === selected) o.selected = true;
      sel.appendChild(o);
    }
  }

  /** Read a form into an API request: numbers parsed, empty optional fields -> null, percent -> fraction. */
  function formValues(form) {
    const out = {};
    const problems = [];
    for (const el of form.querySelectorAll("input[name], select[name]")) {
      const name = el.name;
      let v = el.value.trim();
      if (el.type === "number") {
        if (v === "") {
          if (el.required) problems.push(`${labelOf(el)} is required`);
          out[name] = null; continue;
        }
        let x = Number(v);
        if (!Number.isFinite(x)) { problems.push(`${labelOf(el)} must be a number`); continue; }
        const lo = el.min !== "" ? Number(el.min) : -Infinity, hi = el.max !== "" ? Number(el.max) : Infinity;
        if (x < lo || x > hi) { problems.push(`${labelOf(el)} must be between ${el.min} and ${el.max}, got ${v}`); continue; }
        if (name === "forearm_support") x = x / 100;
        out[name] = x;
      } else if (name === "spacing_mm") {
        out[name] = Number(v);
      } else {
        out[name] = v;
      }
    }
    for (const k of Object.keys(out)) if (out[k] === null && !["body_fat_pct", "offset_x_mm", "forearm_support", "roll_deg"].includes(k)) delete out[k];
    return { values: out, problems };
  }

  function labelOf(el) {
    const lab = el.closest("label");
    return lab ? lab.childNodes[0].textContent.trim() : el.name;
  }

  /** Start a background job, show its progress, allow cancelling; resolve with its result. */
  async function runJob(request, onCancelable) {
    const box = $("progress"), bar = $("progress-bar"), text = $("progress-text"), cancel = $("cancel");
    box.hidden = false; bar.style.width = "0%"; text.textContent = "starting";
    let job = await api("POST", "/api/jobs", request);
    let cancelled = false;
    cancel.disabled = false;
    cancel.onclick = async () => {
      cancel.disabled = true; cancelled = true;
      try { job = await api("DELETE", `/api/jobs/${job.id}`); text.textContent = job.message; } catch (e) { showError(e.message); }
    };
    if (onCancelable) onCancelable(job);
    try {
      while (!["done", "failed", "cancelled"].includes(job.state)) {
        await new Promise((r) => setTimeout(r, 250));
        job = await api("GET", `/api/jobs/${job.id}`);
        bar.style.width = `${Math.round(100 * job.progress)}%`;
        text.textContent = `${Math.round(100 * job.progress)}% - ${job.message}`;
      }
    } finally {
      cancel.disabled = true; cancel.onclick = null;
    }
    if (job.state === "failed") throw new Error(job.error || "the simulation failed");
    if (job.state === "cancelled" || cancelled) { text.textContent = "cancelled"; return null; }
    bar.style.width = "100%"; text.textContent = "done";
    return job.result;
  }

  // ---- colours ---------------------------------------------------------------------------------------------------
  // "inferno"-like colour map (8 stops, linear interpolation), readable on the light background.
  const STOPS = [[252, 255, 164], [249, 201, 50], [246, 140, 34], [226, 83, 56], [187, 55, 84], [129, 31, 108], [68, 10, 104], [0, 0, 4]];
  function colour(t) {
    t = Math.min(Math.max(t, 0), 1) * (STOPS.length - 1);
    const i = Math.min(Math.floor(t), STOPS.length - 2), f = t - i, a = STOPS[i], b = STOPS[i + 1];
    return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
  }
  const REGION_RGB = { 0: [236, 228, 216], 1: [160, 160, 160], 2: [214, 170, 160], 3: [214, 170, 160], 4: [228, 196, 180], 5: [228, 196, 180], 6: [214, 214, 198], 7: [214, 214, 198], 8: [200, 200, 216], 9: [200, 200, 216] };
  let regionNames = {};
  function setRegionNames(n) { regionNames = n || {}; }

  function lookup(m, layer, x, y) {
    const i = Math.round((x - m.x0_mm) / m.spacing_mm), j = Math.round((y - m.y0_mm) / m.spacing_mm);
    if (i < 0 || j < 0 || i >= m.nx || j >= m.ny) return undefined;
    return m[layer][j][i];
  }

  function nearestLevel(levels, y) {
    let best = null, d = Infinity;
    for (const [k, v] of Object.entries(levels || {})) if (Math.abs(v - y) < d) { d = Math.abs(v - y); best = k; }
    return best;
  }

  /**
   * Draw the pressure map of a simulation result over the back outline on a canvas, with peak markers,
   * vertebral levels, a colour bar and a hover tooltip (kPa and region). `pmax` fixes the colour scale.
   */
  function drawMap(canvas, res, pmax, tooltip) {
    const W = canvas.width, barW = 70;
    const m = res.map, o = res.outline;
    const wx0 = m.x0_mm, wx1 = m.x0_mm + (m.nx - 1) * m.spacing_mm, wy0 = m.y0_mm, wy1 = m.y0_mm + (m.ny - 1) * m.spacing_mm;
    const pad = 50;
    const vx0 = wx0 - pad, vx1 = wx1 + pad, vy0 = wy0 - pad, vy1 = wy1 + pad;
    const s = Math.min((W - barW - 30) / (vx1 - vx0), 900 / (vy1 - vy0));
    canvas.height = Math.ceil((vy1 - vy0) * s) + 40;  // fit the canvas to the view (resets the context)
    const H = canvas.height, ctx = canvas.getContext("2d");
    const ox = 30, oy = 10;
    const toPx = (x, y) => [ox + (x - vx0) * s, oy + (y - vy0) * s];
    const toMm = (px, py) => [vx0 + (px - ox) / s, vy0 + (py - oy) / s];
    pmax = pmax || Math.max(1e-9, ...m.pressure_kpa.map((r) => Math.max(...r)));
    ctx.clearRect(0, 0, W, H);
    const img = ctx.createImageData(W, H);
    const w = Math.round((vx1 - vx0) * s), h = Math.round((vy1 - vy0) * s);
    for (let py = oy; py < oy + h && py < H; py++) {
      for (let px = ox; px < ox + w && px < W - barW; px++) {
        const [x, y] = toMm(px + 0.5, py + 0.5);
        let rgb = null;
        const reg = o ? lookup(o, "region", x, y) : undefined;
        if (reg !== undefined) rgb = REGION_RGB[reg] || REGION_RGB[0];
        const p = lookup(m, "pressure_kpa", x, y);
        if (p !== undefined && p > 0) {
          const c = colour(p / pmax), a = 0.25 + 0.75 * Math.min(1, p / pmax * 4);
          rgb = rgb ? [rgb[0] * (1 - a) + c[0] * a, rgb[1] * (1 - a) + c[1] * a, rgb[2] * (1 - a) + c[2] * a] : c;
        }
        if (!rgb) continue;
        const k = 4 * (py * W + px);
        img.data[k] = rgb[0]; img.data[k + 1] = rgb[1]; img.data[k + 2] = rgb[2]; img.data[k + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    // window frame
    ctx.strokeStyle = "rgba(29,42,44,.35)"; ctx.setLineDash([4, 3]);
    const [fx0, fy0] = toPx(wx0, wy0), [fx1, fy1] = toPx(wx1, wy1);
    ctx.strokeRect(fx0, fy0, fx1 - fx0, fy1 - fy0); ctx.setLineDash([]);
    // vertebral levels
    ctx.fillStyle = "#1d2a2c"; ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "right";
    for (const [k, v] of Object.entries((o && o.levels_mm) || {})) {
      if (v < vy0 || v > vy1) continue;
      const [, py] = toPx(0, v);
      ctx.fillText(k, ox - 4, py + 4);
      ctx.beginPath(); ctx.moveTo(ox, py); ctx.lineTo(ox + 6, py); ctx.stroke();
    }
    // peaks
    ctx.textAlign = "center";
    for (const pk of res.tool.peaks) {
      const [px, py] = toPx(pk.x_mm, pk.y_mm);
      ctx.beginPath(); ctx.arc(px, py, 5, 0, 2 * Math.PI); ctx.strokeStyle = "#0b6e4f"; ctx.lineWidth = 2; ctx.stroke();
      ctx.fillStyle = "#0b6e4f"; ctx.fillText(pk.name, px, py - 8);
    }
    ctx.lineWidth = 1;
    const cof = res.summary.center_of_force_mm;
    if (cof && cof[0] !== null) {
      const [cx, cy] = toPx(cof[0], cof[1]);
      ctx.strokeStyle = "#1d2a2c"; ctx.beginPath(); ctx.moveTo(cx - 6, cy); ctx.lineTo(cx + 6, cy); ctx.moveTo(cx, cy - 6); ctx.lineTo(cx, cy + 6); ctx.stroke();
    }
    // colour bar
    const bx = W - barW + 15, by = 20, bh = H - 60;
    for (let i = 0; i < bh; i++) { const c = colour(1 - i / bh); ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`; ctx.fillRect(bx, by + i, 14, 1); }
    ctx.strokeStyle = "#1d2a2c"; ctx.strokeRect(bx, by, 14, bh);
    ctx.fillStyle = "#1d2a2c"; ctx.textAlign = "left";
    ctx.fillText(`${Math.round(pmax)}`, bx + 17, by + 8); ctx.fillText("0", bx + 17, by + bh);
    ctx.fillText("kPa", bx, by + bh + 16);
    ctx.textAlign = "center"; ctx.fillText("left  <  seen from behind  >  right", ox + w / 2, H - 4);
    // hover
    if (tooltip) {
      canvas.onmousemove = (ev) => {
        const r = canvas.getBoundingClientRect();
        const [x, y] = toMm((ev.clientX - r.left) * W / r.width, (ev.clientY - r.top) * H / r.height);
        let p = lookup(m, "pressure_kpa", x, y), reg = lookup(m, "region", x, y);
        if (reg === undefined && o) reg = lookup(o, "region", x, y);
        if (reg === undefined) { tooltip.hidden = true; return; }
        const lv = nearestLevel(o && o.levels_mm, y);
        tooltip.textContent = `${p === undefined ? "outside the solved window" : p.toFixed(1) + " kPa"} - ${regionNames[reg] || "region " + reg} - x ${x.toFixed(0)} mm, y ${y.toFixed(0)} mm (near ${lv})`;
        tooltip.hidden = false; tooltip.style.left = `${ev.clientX + 14}px`; tooltip.style.top = `${ev.clientY + 14}px`;
        tooltip.dataset.kpa = p === undefined ? "" : String(p); tooltip.dataset.region = regionNames[reg] || "";
      };
      canvas.onmouseleave = () => { tooltip.hidden = true; };
    }
    return pmax;
  }

  const fmt = (v, d = 0, u = "") => (v === null || v === undefined ? "-" : `${Number(v).toFixed(d)}${u}`);
  const pct = (v, d = 0) => (v === null || v === undefined ? "-" : `${(100 * v).toFixed(d)}%`);

  function numbersTable(table, res) {
    const s = res.summary;
    const rows = [
      ["force on the tool", fmt(s.force_n, 1, " N")],
      ["peak pressure", fmt(s.peak_pressure_kpa, 0, " kPa")],
      ["peak over a 1 cm² probe", fmt(s.probe_peak_kpa, 0, " kPa")],
      ["mean pressure", fmt(s.mean_pressure_kpa, 0, " kPa")],
      ["contact area", fmt(s.contact_area_mm2, 0, " mm²")],
      ["max. tissue indentation", fmt(s.max_indentation_mm, 1, " mm")],
      ["max. tissue compression", pct(res.max_compression) + (res.validated_compression ? ` (validated to ${pct(res.validated_compression)})` : "")],
      ["force on spinous processes", pct(res.spinous_share, 1)],
      ["of the pain threshold", pct(res.max_threshold_ratio)],
      ["held on forearms", fmt(res.load.forearms_n, 0, " N")],
    ];
    table.innerHTML = "";
    for (const [k, v] of rows) {
      const tr = table.insertRow(); tr.insertCell().textContent = k; tr.insertCell().textContent = v;
    }
  }

  function peakBars(div, res, fmax) {
    div.innerHTML = "";
    fmax = fmax || Math.max(1e-9, ...res.peaks.map((p) => p.force_n || 0));
    for (const p of res.peaks) {
      const el = document.createElement("div"); el.className = "peak";
      const title = document.createElement("div");
      const beyond = (res.beyond_validated || []).includes(p.name) ? ", tissue squeezed beyond the validated range" : "";
      title.textContent = `${p.name}: ${fmt(p.force_n, 1, " N")}, peak ${fmt(p.peak_pressure_kpa, 0, " kPa")}, ${pct(p.threshold_ratio)} of pain threshold${beyond}`;
      el.appendChild(title);
      const t1 = document.createElement("div"); t1.className = "track"; t1.title = "force";
      const f1 = document.createElement("div"); f1.className = "fill"; f1.style.width = `${100 * Math.max(0, p.force_n || 0) / fmax}%`;
      t1.appendChild(f1); el.appendChild(t1);
      const t2 = document.createElement("div"); t2.className = "track"; t2.title = "% of the pressure-pain threshold (line = 100%)";
      const r = p.threshold_ratio || 0;
      const f2 = document.createElement("div"); f2.className = "fill ratio" + (r > 1 ? " over" : ""); f2.style.width = `${Math.min(100, 100 * r / 1.5)}%`;
      const lim = document.createElement("div"); lim.className = "limit"; lim.style.left = `${100 / 1.5}%`;
      t2.appendChild(f2); t2.appendChild(lim); el.appendChild(t2);
      div.appendChild(el);
    }
  }

  function setVerdict(el, res) {
    el.textContent = `Verdict: ${res.verdict}`;
    el.className = "verdict " + (res.verdict_ok ? "ok" : "bad");
  }

  /** Line chart: x values, series [{y, label, colour, axis: "left"|"right"}], optional cursor x. */
  function lineChart(canvas, x, series, opts = {}) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    const L = 50, R = series.some((s) => s.axis === "right") ? 55 : 15, T = 20, B = 35;
    ctx.clearRect(0, 0, W, H);
    if (!x.length) { ctx.fillStyle = "#5b6b6d"; ctx.fillText(opts.empty || "no data", W / 2 - 30, H / 2); return; }
    const xmin = Math.min(...x), xmax = Math.max(...x) === xmin ? xmin + 1 : Math.max(...x);
    const range = (axis) => {
      const ys = series.filter((s) => (s.axis || "left") === axis).flatMap((s) => s.y.filter((v) => v !== null));
      let lo = opts[axis + "Min"] !== undefined ? opts[axis + "Min"] : Math.min(0, ...ys), hi = opts[axis + "Max"] !== undefined ? opts[axis + "Max"] : Math.max(...ys);
      if (!(hi > lo)) hi = lo + 1;
      return [lo, hi];
    };
    const rl = range("left"), rr = range("right");
    const px = (v) => L + (v - xmin) / (xmax - xmin) * (W - L - R);
    const py = (v, r) => H - B - (v - r[0]) / (r[1] - r[0]) * (H - T - B);
    ctx.strokeStyle = "#1d2a2c"; ctx.fillStyle = "#1d2a2c"; ctx.font = "11px system-ui, sans-serif";
    ctx.beginPath(); ctx.moveTo(L, T); ctx.lineTo(L, H - B); ctx.lineTo(W - R, H - B); ctx.stroke();
    ctx.textAlign = "right";
    for (let i = 0; i <= 4; i++) { const v = rl[0] + i * (rl[1] - rl[0]) / 4; ctx.fillText(v.toFixed(opts.leftDigits || 0), L - 4, py(v, rl) + 4); }
    if (R > 15) { ctx.textAlign = "left"; for (let i = 0; i <= 4; i++) { const v = rr[0] + i * (rr[1] - rr[0]) / 4; ctx.fillText(v.toFixed(opts.rightDigits || 0), W - R + 4, py(v, rr) + 4); } }
    ctx.textAlign = "center";
    const labels = opts.xLabels;
    for (let i = 0; i < x.length; i += Math.max(1, Math.ceil(x.length / 8))) ctx.fillText(labels ? labels[i] : Number(x[i]).toFixed(opts.xDigits || 0), px(x[i]), H - B + 14);
    if (opts.xTitle) ctx.fillText(opts.xTitle, (L + W - R) / 2, H - 4);
    let lx = L + 8;
    for (const s of series) {
      const r = s.axis === "right" ? rr : rl;
      ctx.strokeStyle = s.colour; ctx.lineWidth = 2; ctx.beginPath();
      let started = false;
      s.y.forEach((v, i) => { if (v === null) return; if (!started) { ctx.moveTo(px(x[i]), py(v, r)); started = true; } else ctx.lineTo(px(x[i]), py(v, r)); });
      ctx.stroke();
      if (s.points) { ctx.fillStyle = s.colour; s.y.forEach((v, i) => { if (v !== null) { ctx.beginPath(); ctx.arc(px(x[i]), py(v, r), 3, 0, 7); ctx.fill(); } }); }
      ctx.fillStyle = s.colour; ctx.textAlign = "left"; ctx.fillText(s.label, lx, T - 6); lx += ctx.measureText(s.label).width + 16;
      ctx.lineWidth = 1;
    }
    if (opts.cursor !== undefined) {
      ctx.strokeStyle = "rgba(29,42,44,.6)"; ctx.beginPath(); ctx.moveTo(px(opts.cursor), T); ctx.lineTo(px(opts.cursor), H - B); ctx.stroke();
    }
  }

  function barChart(canvas, labels, values, opts = {}) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, L = 40, B = 30, T = 10;
    ctx.clearRect(0, 0, W, H);
    ctx.font = "11px system-ui, sans-serif"; ctx.fillStyle = "#1d2a2c";
    if (!values.length) { ctx.fillText(opts.empty || "no data", W / 2 - 30, H / 2); return; }
    const vmax = Math.max(1, ...values), bw = (W - L - 10) / values.length;
    ctx.textAlign = "right";
    for (let i = 0; i <= vmax; i += Math.max(1, Math.ceil(vmax / 4))) ctx.fillText(String(i), L - 4, H - B - i / vmax * (H - T - B) + 4);
    ctx.textAlign = "center";
    values.forEach((v, i) => {
      const h = v / vmax * (H - T - B);
      ctx.fillStyle = "#2c5d63"; ctx.fillRect(L + i * bw + 2, H - B - h, bw - 4, h);
      ctx.fillStyle = "#1d2a2c"; if (values.length < 30 || i % 4 === 0) ctx.fillText(labels[i], L + i * bw + bw / 2, H - B + 14);
    });
  }

  async function loadChoices() {
    const [meta, tools] = await Promise.all([api("GET", "/api/meta"), api("GET", "/api/tools")]);
    setRegionNames(meta.region_names);
    return { meta, tools };
  }

  return { $, api, showError, fillSelect, formValues, runJob, drawMap, numbersTable, peakBars, setVerdict, lineChart, barChart, loadChoices, colour, fmt, pct };
})();
