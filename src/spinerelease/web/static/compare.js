/* Compare page: two tools side by side on the same body, same colour scale, and the claims checked. */
"use strict";

(() => {
  const { $ } = SR;
  let last = null;

  async function init() {
    try {
      const { meta, tools } = await SR.loadChoices();
      const opts = tools.map((t) => [t.id, t.builtin ? t.name : `${t.name} (uploaded)`]);
      SR.fillSelect($("tool_a"), opts, "pso-spine");
      SR.fillSelect($("tool_b"), opts, "pso-rite");
      SR.fillSelect($("level"), meta.levels.map((l) => [l, l]), "T7");
      SR.fillSelect($("step"), meta.steps.map((s) => [s.key, s.title]), "lie_back");
    } catch (e) { SR.showError(e.message); }
    $("cmp-form").addEventListener("submit", (ev) => { ev.preventDefault(); run(); });
    $("same-scale").addEventListener("change", () => { if (last) drawMaps(last); });
  }

  async function run() {
    SR.showError("");
    const { values, problems } = SR.formValues($("cmp-form"));
    if (problems.length) { SR.showError(problems.join("; ")); return; }
    $("run").disabled = true;
    try {
      const res = await SR.runJob({ kind: "compare", config: values });
      if (res) show(res);
    } catch (e) { SR.showError(e.message); } finally { $("run").disabled = false; }
  }

  function show(res) {
    const ul = $("claims"); ul.innerHTML = "";
    for (const c of res.claims) {
      const li = document.createElement("li");
      const tag = document.createElement("span"); tag.className = c.supported ? "yes" : "no"; tag.textContent = c.supported ? "supported: " : "not supported: ";
      li.appendChild(tag); li.appendChild(document.createTextNode(`${c.text} (${c.evidence})`));
      ul.appendChild(li);
    }
    $("claims-panel").hidden = false;
    last = res;
    drawMaps(res);
    const fmax = Math.max(1e-9, ...res.a.peaks.map((p) => p.force_n || 0), ...res.b.peaks.map((p) => p.force_n || 0));
    for (const [k, r] of [["a", res.a], ["b", res.b]]) {
      $(`side-${k}`).hidden = false;
      $(`title-${k}`).textContent = `${k.toUpperCase()}: ${r.tool.name}`;
      SR.setVerdict($(`verdict-${k}`), r);
      SR.numbersTable($(`numbers-${k}`), r);
      SR.peakBars($(`peaks-${k}`), r, fmax);
    }
  }

  function drawMaps(res) {
    const same = $("same-scale").checked;
    const pmax = Math.max(res.a.summary.peak_pressure_kpa || 0, res.b.summary.peak_pressure_kpa || 0, 1e-9);
    SR.drawMap($("map-a"), res.a, same ? pmax : null, $("tooltip"));
    SR.drawMap($("map-b"), res.b, same ? pmax : null, $("tooltip"));
  }

  document.addEventListener("DOMContentLoaded", init);
})();
