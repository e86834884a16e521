/* Offline API reference rendered from /openapi.json. */
"use strict";

(() => {
  const { $ } = SR;

  function ref(spec, s) {
    if (s && s.$ref) { const name = s.$ref.split("/").pop(); return [name, spec.components.schemas[name]]; }
    return [null, s];
  }

  function describe(spec, schema, depth = 0) {
    const [name, s] = ref(spec, schema);
    if (!s || depth > 2) return name || "";
    if (s.properties) {
      const lines = Object.entries(s.properties).map(([k, p]) => {
        const [n, q] = ref(spec, p);
        const alt = (q.anyOf || q.oneOf || []).map((a) => ref(spec, a)[0] || a.type).filter(Boolean).join(" | ");
        const range = [q.minimum !== undefined ? `>= ${q.minimum}` : "", q.maximum !== undefined ? `<= ${q.maximum}` : "", q.enum ? `one of ${q.enum.join(", ")}` : "", q.pattern ? `pattern ${q.pattern}` : ""].filter(Boolean).join(", ");
        return `${"  ".repeat(depth)}${k}: ${n || q.type || alt || "object"}${range ? " (" + range + ")" : ""}${q.default !== undefined ? " = " + JSON.stringify(q.default) : ""}${q.description ? " - " + q.description : ""}`;
      });
      return (name ? name + "\n" : "") + lines.join("\n");
    }
    if (s.oneOf || s.anyOf) return (s.oneOf || s.anyOf).map((a) => describe(spec, a, depth)).join("\n--- or ---\n");
    return name || s.type || "";
  }

  async function init() {
    let spec;
    try { spec = await SR.api("GET", "/openapi.json"); } catch (e) { SR.showError(e.message); return; }
    const root = $("endpoints");
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const div = document.createElement("div"); div.className = "endpoint";
        const h = document.createElement("h3");
        const m = document.createElement("span"); m.className = "method"; m.textContent = method.toUpperCase();
        h.appendChild(m); h.appendChild(document.createTextNode(`${path} - ${op.summary || ""}`));
        div.appendChild(h);
        const body = op.requestBody && op.requestBody.content;
        if (body) {
          const ct = Object.keys(body)[0];
          const pre = document.createElement("pre"); pre.textContent = `request (${ct}):\n` + describe(spec, body[ct].schema);
          div.appendChild(pre);
        }
        const codes = Object.keys(op.responses || {}).join(", ");
        const p = document.createElement("p"); p.className = "hint"; p.textContent = `responses: ${codes}`;
        div.appendChild(p);
        root.appendChild(div);
      }
    }
  }

  document.addEventListener("DOMContentLoaded", init);
})();
