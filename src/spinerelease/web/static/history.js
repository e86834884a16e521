/* Coach history page: sessions, mean pain and forearm support over sessions, sessions per week. */
"use strict";

(() => {
  const { $ } = SR;

  async function init() {
    let h;
    try { h = await SR.api("GET", "/api/history"); } catch (e) { SR.showError(e.message); return; }
    const s = h.sessions;
    $("history-summary").textContent = !h.exists
      ? "No history yet: run `spinerelease coach` to record guided sessions."
      : `${s.length} sessions recorded; current streak ${h.streak_days} day(s).`;
    const x = s.map((_, i) => i + 1), labels = s.map((r) => r.started_at.slice(0, 10));
    SR.lineChart($("pain-chart"), x, [{ y: s.map((r) => r.mean_pain), label: "mean pain (0-10)", colour: "#b3261e", points: true }],
      { leftMin: 0, leftMax: 10, xLabels: labels, empty: "no sessions yet" });
    SR.lineChart($("support-chart"), x, [{ y: s.map((r) => r.forearm_support === null ? null : 100 * r.forearm_support), label: "forearm support [%]", colour: "#2c5d63", points: true }],
      { leftMin: 0, leftMax: 100, xLabels: labels, empty: "no sessions yet" });
    const weeks = Object.keys(h.per_week).sort();
    SR.barChart($("week-chart"), weeks, weeks.map((w) => h.per_week[w]), { empty: "no sessions yet" });
    const t = $("sessions"); t.innerHTML = "";
    const head = t.insertRow();
    for (const c of ["#", "started", "tool", "target", "level", "forearm support", "steps done", "mean pain", "status"]) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
    for (const r of s) {
      const tr = t.insertRow();
      for (const v of [r.id, r.started_at.replace("T", " ").slice(0, 16), r.tool, r.target, r.level, SR.pct(r.forearm_support), r.steps_done, SR.fmt(r.mean_pain, 1), r.status]) tr.insertCell().textContent = String(v);
    }
  }

  document.addEventListener("DOMContentLoaded", init);
})();
