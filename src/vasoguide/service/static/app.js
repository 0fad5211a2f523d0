// vasoguide bedside page: plain JS, no build step. All data shown with textContent (never HTML).
"use strict";

const $ = (id) => document.getElementById(id);
const MIN = 60 * 1000;
let lastState = null;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function num(x) { return x === "" || x === null || x === undefined ? null : Number(x); }
function mcg(unit) { return String(unit || "").replace(/ug/g, "mcg").replace("mm[Hg]", "mmHg"); }
function fmt(v) { return Number(v).toPrecision(3).replace(/\.?0+$/, "").replace(/\.?0+e/, "e"); }
function iso(date) { return new Date(date).toISOString().replace(/\.\d{3}Z$/, "Z"); }
function localInput(date) {
  const d = new Date(date); d.setSeconds(0, 0);
  return new Date(d.getTime() - d.getTimezoneOffset() * MIN).toISOString().slice(0, 16);
}

// ---- the form ------------------------------------------------------------------------------

function addMapRow(value, minutesAgo) {
  const row = el("div", null, "maprow");
  const v = el("input"); v.type = "number"; v.min = "10"; v.max = "250"; v.placeholder = "MAP";
  v.className = "map-value"; v.setAttribute("aria-label", "MAP (mmHg)");
  const t = el("input"); t.type = "number"; t.min = "0"; t.placeholder = "minutes ago";
  t.className = "map-ago"; t.setAttribute("aria-label", "minutes ago");
  const rm = el("button", "✕"); rm.type = "button"; rm.setAttribute("aria-label", "remove reading");
  rm.addEventListener("click", () => row.remove());
  if (value !== undefined) v.value = value;
  if (minutesAgo !== undefined) t.value = minutesAgo;
  row.append(v, t, rm);
  $("f-maps").append(row);
}

function stateFromForm() {
  const now = $("f-time").value ? new Date($("f-time").value) : new Date();
  const at = (minutesAgo) => iso(now.getTime() - (num(minutesAgo) || 0) * MIN);
  const arterial = $("f-arterial").checked;
  const state = {
    time: iso(now), patient: {}, context: { volume_status: $("f-volume").value },
    observations: [], fluids: [], fluid_responsiveness: [], infusions: [],
    lines: { arterial, central_venous: $("f-central").checked }, events: [],
  };
  if (num($("f-age").value) !== null) state.patient.age_years = num($("f-age").value);
  if (num($("f-weight").value) !== null) state.patient.weight = { value: num($("f-weight").value), unit: "kg" };
  if ($("f-shock").value) state.context.shock_type = $("f-shock").value;
  for (const row of $("f-maps").querySelectorAll(".maprow")) {
    const v = num(row.querySelector(".map-value").value);
    if (v === null) continue;
    state.observations.push({ code: "map", value: v, unit: "mm[Hg]", time: at(row.querySelector(".map-ago").value),
                              method: arterial ? "arterial" : "noninvasive" });
  }
  if (num($("f-lactate").value) !== null) {
    state.observations.push({ code: "lactate", value: num($("f-lactate").value), unit: "mmol/L", time: at(0) });
  }
  if (num($("f-fluid").value) !== null) {
    state.fluids.push({ type: "crystalloid", volume: { value: num($("f-fluid").value), unit: "mL" }, time: at(0) });
  }
  if ($("f-resp").value) {
    state.fluid_responsiveness.push({ method: "passive_leg_raise", result: $("f-resp").value, time: at(0) });
  }
  if (num($("f-ne").value) !== null) {
    const inf = { drug: "norepinephrine", dose: { value: num($("f-ne").value), unit: "ug/kg/min" },
                  route: $("f-central").checked ? "central" : "peripheral", time: at(30) };
    if (num($("f-conc").value) !== null) inf.concentration = { value: num($("f-conc").value), unit: "ug/mL" };
    state.infusions.push(inf);
  }
  return state;
}

function loadExample() {
  $("f-time").value = localInput(Date.now());
  $("f-age").value = 64; $("f-weight").value = 80; $("f-shock").value = "septic";
  $("f-volume").value = "unknown"; $("f-fluid").value = 2500; $("f-resp").value = "unresponsive";
  $("f-arterial").checked = true; $("f-central").checked = false;
  $("f-lactate").value = 4.1; $("f-ne").value = ""; $("f-conc").value = 16;
  $("f-maps").replaceChildren();
  addMapRow(63, 60); addMapRow(60, 30); addMapRow(58, 5);
  showTab("panel-form");
  $("c-weight").value = 80; $("c-conc").value = 16;
}

function showTab(panelId) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const on = tab.dataset.panel === panelId;
    tab.setAttribute("aria-selected", String(on));
    $(tab.dataset.panel).hidden = !on;
  }
}

// ---- calling the service -------------------------------------------------------------------

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                       body: typeof body === "string" ? body : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const lines = Array.isArray(data.detail) ? data.detail : [data.message || `HTTP ${response.status}`];
    throw new Error(lines.join("\n"));
  }
  return data;
}

async function assess() {
  $("error").hidden = true;
  try {
    let state, notUsed = null;
    if (!$("panel-paste").hidden) {
      const text = $("paste").value.trim();
      let parsed;
      try { parsed = JSON.parse(text); } catch { throw new Error("(document): not valid JSON"); }
      if (parsed && parsed.resourceType === "Bundle") {
        const mapped = await post("/fhir/state", text);
        state = mapped.state; notUsed = mapped.not_used;
      } else {
        state = parsed;
      }
    } else {
      state = stateFromForm();
      $("paste").value = JSON.stringify(state, null, 2);
    }
    const assessment = await post("/assess", state);
    lastState = state;
    render(assessment, state, notUsed);
  } catch (err) {
    $("error").textContent = err.message; $("error").hidden = false;
  }
}

// ---- the result ----------------------------------------------------------------------------

function doseText(a) {
  let t = `${fmt(a.dose.value)} ${mcg(a.dose.unit)}`;
  if (a.rate && a.concentration) t += ` = ${fmt(a.rate.value)} mL/h at ${fmt(a.concentration.value)} ${mcg(a.concentration.unit)}`;
  return t;
}

function render(a, state, notUsed) {
  $("decision").textContent = a.decision.replace(/_/g, " ");
  $("decision").dataset.code = a.decision;
  const t = a.target;
  $("target").textContent = t ? `Target ${t.measure.toUpperCase()} ${t.high ? `${fmt(t.low)}–${fmt(t.high)}` : `≥ ${fmt(t.low)}`} ${mcg(t.unit)}` : "No target";
  $("summary").textContent = a.summary || "";
  const actions = $("actions"); actions.replaceChildren();
  for (const act of a.actions || []) {
    const li = el("li"); li.append(el("strong", act.code.replace(/_/g, " ")), " — ", act.text || "");
    if (act.dose) { li.append(" "); li.append(el("span", doseText(act), "dose")); }
    actions.append(li);
  }
  const alerts = $("alerts"); alerts.replaceChildren();
  const byId = Object.fromEntries((a.basis || []).map((b) => [b.id, b]));
  for (const al of a.alerts || []) {
    const li = el("li"); li.append(el("span", `${al.severity}: ${al.code.replace(/_/g, " ")}`, `sev-${al.severity}`), " — ", al.text);
    const ev = (al.basis || []).map((id) => byId[id]).filter(Boolean);
    if (ev.length) li.append(el("div", "Evidence: " + ev.map((b) => `${b.source} (${b.strength}; ${b.certainty})`).join(" · "), "small"));
    alerts.append(li);
  }
  if (!(a.alerts || []).length) alerts.append(el("li", "none"));
  $("missing").textContent = (a.missing || []).length ? `Missing: ${a.missing.join(", ")}` : "";
  const basis = $("basis"); basis.replaceChildren();
  for (const b of a.basis || []) {
    const li = el("li"); li.append(el("code", b.id), ` ${b.statement} `, el("span", `${b.source}; strength ${b.strength}; certainty ${b.certainty}`, "small"));
    basis.append(li);
  }
  const list = $("notused-list"); list.replaceChildren();
  $("notused").hidden = !notUsed || !notUsed.length;
  for (const line of notUsed || []) list.append(el("li", line));
  const p = a.protocol || {};
  $("protocol").textContent = `Protocol ${p.name} ${p.version} ${p.digest || ""}`;
  chart(state, a);
  const w = state.patient && state.patient.weight;
  if (w && w.unit === "kg" && !$("c-weight").value) $("c-weight").value = w.value;
}

// ---- the trend chart (inline SVG) ----------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function chart(state, a) {
  const box = $("chart"); box.replaceChildren();
  const W = 640, H = 260, L = 44, R = 52, T = 14, B = 28;
  const measure = a.target ? a.target.measure : "map";
  const now = Date.parse(state.time);
  const pts = (state.observations || []).filter((o) => o.code === measure && Date.parse(o.time) <= now)
    .map((o) => ({ t: Date.parse(o.time), v: Number(o.value) })).sort((x, y) => x.t - y.t);
  const ne = (state.infusions || []).filter((i) => i.drug === "norepinephrine" && Date.parse(i.time) <= now)
    .map((i) => ({ t: Date.parse(i.time), v: Number(i.dose.value), u: i.dose.unit })).sort((x, y) => x.t - y.t);
  const t0 = Math.min(now - 60 * MIN, ...pts.map((p) => p.t), ...ne.map((p) => p.t));
  const x = (t) => L + (W - L - R) * (t - t0) / Math.max(now - t0, 1);
  // `high` is omitted when there is none (the service never sends nulls)
  const lows = a.target ? [a.target.low, a.target.high].filter((v) => typeof v === "number") : [];
  const vmin = Math.min(40, ...pts.map((p) => p.v), ...lows) - 5, vmax = Math.max(100, ...pts.map((p) => p.v), ...lows) + 5;
  const y = (v) => T + (H - T - B) * (1 - (v - vmin) / (vmax - vmin));
  box.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  box.append(svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
  for (let v = Math.ceil(vmin / 20) * 20; v <= vmax; v += 20) box.append(svg("text", { x: 6, y: y(v) + 4 }, `${v}`));
  box.append(svg("text", { x: 6, y: T }, measure.toUpperCase()));
  for (const m of [60, 30, 0]) {
    const tt = now - m * MIN; if (tt < t0) continue;
    box.append(svg("text", { x: x(tt) - 12, y: H - 8 }, m ? `-${m} min` : "now"));
  }
  for (const v of lows) box.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "tgt", "data-value": v }));
  if (pts.length) {
    box.append(svg("polyline", { class: "map", points: pts.map((p) => `${x(p.t)},${y(p.v)}`).join(" ") }));
    for (const p of pts) box.append(svg("circle", { class: "mappt", cx: x(p.t), cy: y(p.v), r: 3.5 }));
  }
  if (ne.length) {
    const dmax = Math.max(...ne.map((p) => p.v), 1e-9) * 1.25;
    const yd = (v) => T + (H - T - B) * (1 - v / dmax);
    let d = ""; ne.forEach((p, i) => {
      d += i === 0 ? `M${x(p.t)},${yd(p.v)}` : ` H${x(p.t)} V${yd(p.v)}`;
    });
    d += ` H${x(now)}`;
    box.append(svg("path", { class: "ne", d }));
    box.append(svg("text", { x: W - R + 4, y: yd(ne[ne.length - 1].v) + 4 }, `${fmt(ne[ne.length - 1].v)} ${mcg(ne[0].u)}`));
  }
}

// ---- dose calculator (arithmetic and limits come from the server's vasoguide.dosing) --------

let calcTimer = null;
function calcSoon() { clearTimeout(calcTimer); calcTimer = setTimeout(calc, 150); }
async function calc() {
  const value = num($("c-value").value);
  if (value === null) { $("c-out").textContent = "—"; $("c-limit").textContent = ""; return; }
  const body = { value, unit: $("c-unit").value };
  if (num($("c-weight").value)) body.weight_kg = num($("c-weight").value);
  if (num($("c-conc").value)) body.concentration_ug_ml = num($("c-conc").value);
  try {
    const r = await post("/dose", body);
    const parts = [];
    if (r.ug_kg_min !== null) parts.push(`${fmt(r.ug_kg_min)} mcg/kg/min`);
    parts.push(`${fmt(r.ug_min)} mcg/min`);
    if (r.ml_h !== null) parts.push(`${fmt(r.ml_h)} mL/h`);
    $("c-out").textContent = parts.join(" = ");
    $("c-out").dataset.mlh = r.ml_h === null ? "" : r.ml_h;
    $("c-limit").textContent = r.limit.level === "ok" ? "" : r.limit.message;
    $("c-limit").className = r.limit.level === "ok" ? "small" : "small sev-warning";
  } catch (err) {
    $("c-out").textContent = err.message; $("c-out").dataset.mlh = "";
  }
}

// ---- wiring --------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("f-time").value = localInput(Date.now());
  addMapRow();
  for (const tab of document.querySelectorAll("[role=tab]")) tab.addEventListener("click", () => showTab(tab.dataset.panel));
  $("add-map").addEventListener("click", () => addMapRow());
  $("example").addEventListener("click", loadExample);
  $("assess").addEventListener("click", assess);
  for (const id of ["c-value", "c-unit", "c-weight", "c-conc"]) $(id).addEventListener("input", calcSoon);
  $("file").addEventListener("change", async () => {
    const file = $("file").files[0];
    if (file) { $("paste").value = await file.text(); showTab("panel-paste"); }
  });
  document.body.dataset.ready = "1";
});
