// vasoguide bedside page: plain JS, no build step. All data shown with textContent (never HTML).
//
// Numbers: the page computes nothing clinical. Every dose, rate, target and weight it shows is a
// number from the service's JSON (`/assess`, `/dose`), already rounded by the engine
// (docs/DISPLAY.md), and written with `numberText`/`unitText`, the twins of
// vasoguide.display.number_text/unit_text. Each such number is a <span class="num"> whose
// `data-src` names the JSON field it writes, so the tests can check every one against the JSON.
"use strict";

const $ = (id) => document.getElementById(id);
const MIN = 60 * 1000;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function num(x) { return x === "" || x === null || x === undefined ? null : Number(x); }

// ---- writing numbers and units (docs/DISPLAY.md; mirrors vasoguide.display) -----------------

/** A JSON number as clinicians write it: "150", "0.05", "1050"; never "1.05e+3", "150.0" or
 *  "15" for 150. It never rounds: the shortest digits that are the number (as Python's repr),
 *  written in plain decimal notation. */
function numberText(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new Error(`${v} is not a number a clinician can be shown`);
  }
  if (v === 0) return "0"; // also -0
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(Math.abs(v)));
  const digits = m[1] + (m[2] || "");
  const point = m[1].length + Number(m[3] || 0); // where the decimal point goes in `digits`
  let text;
  if (point <= 0) text = "0." + "0".repeat(-point) + digits;
  else if (point >= digits.length) text = digits + "0".repeat(point - digits.length);
  else text = digits.slice(0, point) + "." + digits.slice(point);
  text = text.replace(/^0+(?=\d)/, ""); // "05.1" cannot happen, "0.05" stays
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  return (v < 0 ? "-" : "") + text;
}

// UCUM spellings people read differently (vasoguide.display.UNIT_TEXT).
const UNIT_TEXT = { "mm[Hg]": "mmHg", "a": "years", "mo": "months", "d": "days", "{units}": "units", "/min": "/min" };

/** UCUM to the spelling clinicians read: ug -> mcg, mm[Hg] -> mmHg. */
function unitText(unit) {
  const u = String(unit);
  return Object.hasOwn(UNIT_TEXT, u) ? UNIT_TEXT[u] : u.replaceAll("ug", "mcg").replaceAll("{units}", "units");
}

/** A number from the JSON, as a span the tests can check: `src` is "<doc>:<path>". */
function numSpan(value, src) {
  const span = el("span", numberText(value), "num");
  span.dataset.src = src;
  return span;
}

// ---- times, always with their zone ---------------------------------------------------------

function offsetText(minutes) {
  if (minutes === 0) return "UTC";
  const a = Math.abs(minutes);
  return `UTC${minutes < 0 ? "−" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** The offset (minutes east of UTC) an ISO time was written in: "…+01:00" -> 60, "…Z" -> 0. */
function offsetOf(isoText) {
  const m = /([+-])(\d\d):?(\d\d)$/.exec(isoText);
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

/** The zone a time is shown in: its offset, and the browser's zone name when that is the same. */
function zoneText(ms, offset) {
  const local = -new Date(ms).getTimezoneOffset();
  return offset === local ? `${offsetText(offset)}, ${browserZone()}` : offsetText(offset);
}

/** Wall-clock parts of instant `ms` in a fixed offset. */
function wall(ms, offset) {
  const iso = new Date(ms + offset * MIN).toISOString();
  return { date: iso.slice(0, 10), hm: iso.slice(11, 16) };
}

/** An instant written with the browser's own offset, so the engine's text ("MAP 58 mmHg
 *  (08:55)") reads in the nurse's wall-clock time. */
function isoLocal(ms) {
  const d = new Date(ms); d.setSeconds(0, 0);
  const off = -d.getTimezoneOffset();
  const body = new Date(d.getTime() + off * MIN).toISOString().slice(0, 19);
  if (off === 0) return body + "Z";
  const a = Math.abs(off);
  return `${body}${off < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}
function localInput(ms) { return isoLocal(ms).slice(0, 16); }

// ---- the form ------------------------------------------------------------------------------

function addMapRow(value, minutesAgo) {
  const row = el("div", null, "maprow");
  const v = el("input"); v.type = "number"; v.min = "10"; v.max = "250"; v.placeholder = "MAP (mmHg)";
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
  const now = $("f-time").value ? new Date($("f-time").value).getTime() : Date.now();
  const at = (minutesAgo) => isoLocal(now - (num(minutesAgo) || 0) * MIN);
  const arterial = $("f-arterial").checked;
  const state = {
    time: isoLocal(now), patient: {}, context: { volume_status: $("f-volume").value },
    observations: [], fluids: [], fluid_responsiveness: [], infusions: [],
    lines: { arterial, central_venous: $("f-central").checked }, events: [],
  };
  if (num($("f-age").value) !== null) state.patient.age_years = num($("f-age").value);
  // The weight goes as typed, in its unit; the service converts lb to kg.
  if (num($("f-weight").value) !== null) state.patient.weight = { value: num($("f-weight").value), unit: $("f-weight-unit").value };
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
  $("f-age").value = 64; $("f-weight").value = 80; $("f-weight-unit").value = "kg"; $("f-shock").value = "septic";
  $("f-volume").value = "unknown"; $("f-fluid").value = 2500; $("f-resp").value = "unresponsive";
  $("f-arterial").checked = true; $("f-central").checked = false;
  $("f-lactate").value = 4.1; $("f-ne").value = ""; $("f-conc").value = 16;
  $("f-maps").replaceChildren();
  addMapRow(63, 60); addMapRow(60, 30); addMapRow(58, 5);
  showTab("panel-form");
  $("c-weight").value = 80; $("c-weight-unit").value = "kg"; $("c-conc").value = 16;
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
      // The browser checks the form's own limits first (no request for a value it refuses).
      if (!$("panel-form").reportValidity()) return;
      state = stateFromForm();
      $("paste").value = JSON.stringify(state, null, 2);
    }
    const assessment = await post("/assess", state);
    render(assessment, state, notUsed);
  } catch (err) {
    $("error").textContent = err.message; $("error").hidden = false;
  }
}

// ---- the result ----------------------------------------------------------------------------

const quantity = (q, src) => [numSpan(q.value, `${src}.value`), ` ${unitText(q.unit)}`];

function actionDose(act, i) {
  const src = `a:actions.${i}`;
  const span = el("span", null, "dose");
  span.append(...quantity(act.dose, `${src}.dose`));
  // A rate is never shown without the concentration it assumes (docs/DISPLAY.md).
  if (act.rate && act.concentration) {
    span.append(" = ", ...quantity(act.rate, `${src}.rate`), " at ", ...quantity(act.concentration, `${src}.concentration`));
    if (act.concentration_basis) span.append(` (${act.concentration_basis})`);
  }
  return span;
}

function targetText(t, src) {
  const out = [`${t.measure.toUpperCase()} `];
  if (typeof t.high === "number") out.push(numSpan(t.low, `${src}.low`), "–", numSpan(t.high, `${src}.high`));
  else out.push("≥ ", numSpan(t.low, `${src}.low`));
  out.push(` ${unitText(t.unit)}`);
  return out;
}

function render(a, state, notUsed) {
  $("decision").textContent = a.decision.replace(/_/g, " ");
  $("decision").dataset.code = a.decision;
  const ms = Date.parse(a.time), offset = offsetOf(a.time), w = wall(ms, offset);
  $("when").textContent = `Assessed for ${w.date} ${w.hm} (${zoneText(ms, offset)}); times below are in this zone.`;
  const target = $("target"); target.replaceChildren();
  if (a.target) {
    target.append("Target ", ...targetText(a.target, "a:target"));
    (a.secondary_targets || []).forEach((t, i) => target.append("; also ", ...targetText(t, `a:secondary_targets.${i}`)));
  } else {
    target.append("No target");
  }
  $("summary").textContent = a.summary || "";
  renderStatus(a);
  const actions = $("actions"); actions.replaceChildren();
  (a.actions || []).forEach((act, i) => {
    const li = el("li"); li.append(el("strong", act.code.replace(/_/g, " ")), " — ", act.text || "");
    if (act.dose) { li.append(" "); li.append(actionDose(act, i)); }
    actions.append(li);
  });
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
  $("tag-key").hidden = false;
  const list = $("notused-list"); list.replaceChildren();
  $("notused").hidden = !notUsed || !notUsed.length;
  for (const line of notUsed || []) list.append(el("li", line));
  const p = a.protocol || {};
  $("protocol").textContent = `Protocol ${p.name} ${p.version} ${p.digest || ""}`;
  chart(state, a);
  // The calculator starts from the patient's weight as typed (value and unit; no conversion here).
  const weight = state.patient && state.patient.weight;
  if (weight && !$("c-weight").value && [...$("c-weight-unit").options].some((o) => o.value === weight.unit)) {
    $("c-weight").value = weight.value; $("c-weight-unit").value = weight.unit;
  }
}

/** What the engine used: the weight (converted by the service), the running norepinephrine,
 *  and the fluids per kg. */
function renderStatus(a) {
  const status = $("status"); status.replaceChildren();
  const parts = [];
  (a.inputs || []).forEach((inp, i) => {
    if (inp.code === "weight" && typeof inp.value === "number") {
      parts.push(["Weight used ", numSpan(inp.value, `a:inputs.${i}.value`), ` ${unitText(inp.unit)}`]);
    }
  });
  const ne = a.norepinephrine;
  if (ne && ne.running && ne.dose) parts.push(["Norepinephrine running ", ...quantity(ne.dose, "a:norepinephrine.dose")]);
  else if (ne) parts.push(["Norepinephrine not running"]);
  if (a.volume && typeof a.volume.crystalloid_ml_per_kg === "number") {
    parts.push(["Crystalloid ", numSpan(a.volume.crystalloid_ml_per_kg, "a:volume.crystalloid_ml_per_kg"), " mL/kg"]);
  }
  parts.forEach((part, i) => { if (i) status.append(" · "); status.append(...part); });
}

// ---- the trend chart (inline SVG) ----------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.append(...(Array.isArray(text) ? text : [text]));
  return node;
}
/** A number from the JSON inside an SVG <text>, checkable like numSpan. */
function numTspan(value, src) {
  const node = svg("tspan", { class: "num", "data-src": src }, numberText(value));
  return node;
}

/** Chart graduations (not clinical numbers): whole multiples of `step` from lo to hi. */
function ticks(lo, hi, step) {
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
  return out;
}

function chart(state, a) {
  const box = $("chart"); box.replaceChildren();
  const legend = $("legend"); legend.replaceChildren();
  const W = 640, H = 290, L = 56, R = 76, T = 14, B = 46;
  const measure = a.target ? a.target.measure : "map";
  const now = Date.parse(a.time), offset = offsetOf(a.time);
  // Pressures as charted; only mmHg readings share the axis.
  const pts = (state.observations || [])
    .filter((o) => o.code === measure && unitText(o.unit) === "mmHg" && Date.parse(o.time) <= now)
    .map((o) => ({ t: Date.parse(o.time), v: Number(o.value) })).sort((x, y) => x.t - y.t);
  // Norepinephrine as charted, in the unit of the latest entry (one unit per axis).
  const neAll = (state.infusions || []).map((inf, i) => ({ inf, i }))
    .filter(({ inf }) => inf.drug === "norepinephrine" && inf.dose && Date.parse(inf.time) <= now)
    .map(({ inf, i }) => ({ t: Date.parse(inf.time), v: Number(inf.dose.value), u: inf.dose.unit, i }))
    .sort((x, y) => x.t - y.t);
  const neUnit = neAll.length ? neAll[neAll.length - 1].u : null;
  const ne = neAll.filter((p) => p.u === neUnit);
  const t0 = Math.min(now - 60 * MIN, ...pts.map((p) => p.t), ...ne.map((p) => p.t));
  const x = (t) => L + (W - L - R) * (t - t0) / Math.max(now - t0, 1);
  const targets = a.target ? [["low", a.target.low], ["high", a.target.high]].filter(([, v]) => typeof v === "number") : [];
  const vmin = Math.min(40, ...pts.map((p) => p.v), ...targets.map(([, v]) => v)) - 5;
  const vmax = Math.max(100, ...pts.map((p) => p.v), ...targets.map(([, v]) => v)) + 5;
  const y = (v) => T + (H - T - B) * (1 - (v - vmin) / (vmax - vmin));
  const bottom = H - B, mUnit = "mmHg", label = measure.toUpperCase();

  // Axes: pressure on the left, time along the bottom (in the assessment's zone).
  box.append(svg("line", { x1: L, y1: bottom, x2: W - R, y2: bottom, class: "axis" }));
  box.append(svg("line", { x1: L, y1: T, x2: L, y2: bottom, class: "axis" }));
  for (const v of ticks(vmin, vmax, 20)) {
    box.append(svg("line", { x1: L - 4, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    box.append(svg("text", { x: L - 7, y: y(v) + 4, class: "tick", "text-anchor": "end" }, numberText(v)));
  }
  box.append(svg("text", { x: 14, y: (T + bottom) / 2, class: "axis-title", "text-anchor": "middle",
                           transform: `rotate(-90 14 ${(T + bottom) / 2})` }, `${label} (${mUnit})`));
  const spanMin = (now - t0) / MIN;
  const step = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].find((s) => spanMin / s <= 6) || 1440;
  for (const tMin of ticks((t0 / MIN) + offset, (now / MIN) + offset, step)) {
    const tt = (tMin - offset) * MIN;
    box.append(svg("line", { x1: x(tt), x2: x(tt), y1: bottom, y2: bottom + 4, class: "axis" }));
    box.append(svg("text", { x: x(tt), y: bottom + 16, class: "tick", "text-anchor": "middle" }, wall(tt, offset).hm));
  }
  box.append(svg("text", { x: (L + W - R) / 2, y: H - 6, class: "axis-title", "text-anchor": "middle" },
                 `time (${zoneText(now, offset)})`));

  const series = [];
  for (const [key, v] of targets) {
    box.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "s-tgt", "data-value": v }));
    box.append(svg("text", { x: L + 4, y: y(v) - 4, class: "tgt-label" }, [numTspan(v, `a:target.${key}`)]));
  }
  if (targets.length) series.push(["s-tgt", `target ${label}`]);
  if (pts.length) {
    box.append(svg("polyline", { class: "s-map", points: pts.map((p) => `${x(p.t)},${y(p.v)}`).join(" ") }));
    for (const p of pts) box.append(svg("circle", { class: "s-mappt", cx: x(p.t), cy: y(p.v), r: 3.5 }));
    series.unshift(["s-map", `${label} (${mUnit}, left axis)`]);
  }
  if (ne.length) {
    // Second axis on the right: norepinephrine dose, labelled with the charted doses themselves.
    const top = Math.max(...ne.map((p) => p.v));
    const yd = (v) => bottom - (bottom - T) * 0.8 * (top > 0 ? v / top : 0);
    box.append(svg("line", { x1: W - R, y1: T, x2: W - R, y2: bottom, class: "axis ne-axis" }));
    box.append(svg("text", { x: W - R + 8, y: bottom + 4, class: "tick ne-tick" }, "0"));
    let lastY = bottom;
    for (const p of [...ne].sort((m, n) => m.v - n.v)) {
      if (lastY - yd(p.v) < 12) continue; // labels never overlap
      lastY = yd(p.v);
      box.append(svg("line", { x1: W - R, x2: W - R + 4, y1: yd(p.v), y2: yd(p.v), class: "ne-axis" }));
      box.append(svg("text", { x: W - R + 8, y: yd(p.v) + 4, class: "ne-tick" }, [numTspan(p.v, `s:infusions.${p.i}.dose.value`)]));
    }
    box.append(svg("text", { x: W - 4, y: T + 4, class: "axis-title", "text-anchor": "end" }, unitText(neUnit)));
    let d = "";
    ne.forEach((p, i) => { d += i === 0 ? `M${x(p.t)},${yd(p.v)}` : ` H${x(p.t)} V${yd(p.v)}`; });
    d += ` H${x(now)}`;
    box.append(svg("path", { class: "s-ne", d }));
    series.push(["s-ne", `norepinephrine (${unitText(neUnit)}, right axis)`]);
  }
  // The legend is drawn with the same classes as the lines, so it cannot disagree with them.
  for (const [cls, text] of series) {
    const key = el("span", null, "key"); key.dataset.series = cls;
    const swatch = svg("svg", { width: 30, height: 12, "aria-hidden": "true" });
    swatch.append(svg(cls === "s-map" ? "polyline" : "line",
                      cls === "s-map" ? { class: cls, points: "2,6 28,6" } : { class: cls, x1: 2, x2: 28, y1: 6, y2: 6 }));
    if (cls === "s-map") swatch.append(svg("circle", { class: "s-mappt", cx: 15, cy: 6, r: 3.5 }));
    key.append(swatch, text);
    legend.append(key);
  }
  const otherUnits = [...new Set(neAll.filter((p) => p.u !== neUnit).map((p) => unitText(p.u)))];
  if (otherUnits.length) legend.append(el("span", `earlier norepinephrine entries in ${otherUnits.join(", ")} not drawn`, "small"));
}

// ---- dose calculator (arithmetic and limits come from the server's vasoguide.dosing) --------

let calcTimer = null, calcSeq = 0;
function calcSoon() {
  // Until the new answer arrives, the old one is marked stale: never read beside new inputs.
  $("c-out").classList.add("stale"); $("c-out").dataset.mlh = "";
  clearTimeout(calcTimer); calcTimer = setTimeout(calc, 150);
}

function calcNote(text) {
  $("c-out").replaceChildren(text); $("c-out").dataset.mlh = ""; $("c-limit").textContent = "";
  $("c-out").classList.remove("stale");
}

async function calc() {
  const seq = ++calcSeq;
  const value = num($("c-value").value), unit = $("c-unit").value;
  if (value === null) { calcNote("—"); return null; }
  const fields = ["c-value", "c-weight", "c-conc"].map($);
  const bad = fields.find((f) => !f.validity.valid);
  if (bad) { calcNote(`${bad.labels[0].firstChild.textContent.trim()}: ${bad.validationMessage}`); return null; }
  const weight = num($("c-weight").value), conc = num($("c-conc").value);
  // Ask only what can be answered (a per-kg dose needs the weight, a rate the concentration).
  if (unit === "ug/kg/min" && !weight) { calcNote("Enter the weight for a dose per kg."); return null; }
  if (unit === "mL/h" && !conc) { calcNote("Enter the concentration for a rate in mL/h."); return null; }
  const body = { value, unit };
  if (weight) body.weight = { value: weight, unit: $("c-weight-unit").value };
  if (conc) body.concentration_ug_ml = conc;
  try {
    const r = await post("/dose", body);
    if (seq !== calcSeq) return null; // a newer question was asked meanwhile: its answer counts
    const out = $("c-out"); out.replaceChildren(); out.classList.remove("stale");
    const parts = [];
    if (r.ug_kg_min !== null) parts.push([numSpan(r.ug_kg_min, "d:ug_kg_min"), " mcg/kg/min"]);
    parts.push([numSpan(r.ug_min, "d:ug_min"), " mcg/min"]);
    if (r.ml_h !== null) parts.push([numSpan(r.ml_h, "d:ml_h"), " mL/h"]);
    parts.forEach((part, i) => { if (i) out.append(" = "); out.append(...part); });
    const given = [];
    if (r.weight_kg !== null) given.push(["weight ", numSpan(r.weight_kg, "d:weight_kg"), " kg"]);
    if (r.concentration_ug_ml !== null) given.push(["at ", numSpan(r.concentration_ug_ml, "d:concentration_ug_ml"), " mcg/mL"]);
    if (given.length) {
      out.append(" (");
      given.forEach((g, i) => { if (i) out.append(", "); out.append(...g); });
      out.append(")");
    }
    out.dataset.mlh = r.ml_h === null ? "" : numberText(r.ml_h);
    $("c-limit").textContent = r.limit.level === "ok" ? "" : r.limit.message;
    $("c-limit").className = r.limit.level === "ok" ? "small" : "small sev-warning";
    return r;
  } catch (err) {
    if (seq === calcSeq) calcNote(err.message);
    return null;
  }
}

// ---- wiring --------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("f-time").value = localInput(Date.now());
  $("f-time-zone").textContent = `(${zoneText(Date.now(), -new Date().getTimezoneOffset())})`;
  addMapRow();
  for (const tab of document.querySelectorAll("[role=tab]")) tab.addEventListener("click", () => showTab(tab.dataset.panel));
  $("add-map").addEventListener("click", () => addMapRow());
  $("example").addEventListener("click", loadExample);
  $("assess").addEventListener("click", assess);
  for (const id of ["c-value", "c-unit", "c-weight", "c-weight-unit", "c-conc"]) $(id).addEventListener("input", calcSoon);
  $("file").addEventListener("change", async () => {
    const file = $("file").files[0];
    if (file) { $("paste").value = await file.text(); showTab("panel-paste"); }
  });
  document.body.dataset.ready = "1";
});
