// The HR side of the reference interface: the organisation's gap heatmap and tables, and pathway progress,
// all from the insights API, which suppresses small groups (this page shows what it is given, no more).
"use strict";

(() => {
  const { api, el, show, say, percent } = digipath;
  let heatmapUrl = null;

  const number = (v, digits = 1) => (v === null || v === undefined ? "" : Number(v).toFixed(digits));
  const share = (v) => (v === null || v === undefined ? "" : percent(v));
  const hidden = "suppressed: too few people, or would reveal a small group by difference";

  function notes(id, list) {
    document.getElementById(id).replaceChildren(...(list || []).map((n) => el("li", {}, n)));
  }

  async function showGaps(event) {
    if (event) event.preventDefault();
    const grouping = document.getElementById("grouping").value;
    const value = document.getElementById("value").value;
    const groupingName = grouping === "role" ? "job role" : "unit";
    const figure = document.getElementById("heatmap-figure");
    const empty = document.getElementById("gaps-empty");
    const section = document.getElementById("gaps-section");
    section.setAttribute("aria-busy", "true");
    say("Loading the gaps ...");
    try {
      const response = await api(
        `/v1/insights/gaps/heatmap?${new URLSearchParams({ grouping, value, format: "svg" })}`, { raw: true });
      if (heatmapUrl) URL.revokeObjectURL(heatmapUrl);
      heatmapUrl = URL.createObjectURL(await response.blob());
      const img = document.getElementById("heatmap");
      img.src = heatmapUrl;
      img.alt = `Heatmap of the ${value === "mean_gap" ? "mean gap in levels" : "share below the required level"}`
        + ` per ${groupingName} and competence; the largest gaps are listed in the table below.`;
      figure.hidden = false;
      empty.hidden = true;
    } catch (error) {
      figure.hidden = true;
      empty.textContent = error.status === 409 ? `No heatmap yet: ${error.message}.` : error.message;
      empty.hidden = false;
    }
    try {
      const table = await api(`/v1/insights/gaps?${new URLSearchParams(
        { table: "largest_gaps", grouping, limit: "1000" })}`);
      const body = document.querySelector("#gaps-table tbody");
      body.replaceChildren(...table.items.map((row) => el("tr", {},
        el("th", { scope: "row" }, row.group), el("td", {}, row.n), el("td", {}, row.rank),
        el("td", {}, row.competence), el("td", {}, share(row.share_below)),
        el("td", {}, number(row.mean_gap)))));
      show("gaps-table", table.items.length > 0);
      notes("gaps-notes", table.notes);
      say("");
    } catch (error) {
      say(`Could not load the gaps: ${error.message}`, "error");
    } finally {
      section.setAttribute("aria-busy", "false");
    }
  }

  async function showProgress() {
    try {
      const table = await api("/v1/insights/pathways?table=units&limit=1000");
      const body = document.querySelector("#progress-table tbody");
      body.replaceChildren(...table.items.map((row) => {
        const cells = row.suppressed
          ? [el("td", { colspan: 4 }, hidden)]
          : [el("td", {}, share(row.mean_share_completed)), el("td", {}, share(row.share_started)),
            el("td", {}, share(row.share_finished)),
            el("td", {}, `${row.steps_completed} of ${row.steps}`)];
        return el("tr", {}, el("td", {}, row.grouping), el("th", { scope: "row" }, row.group),
          el("td", {}, row.suppressed ? "not shown" : row.n), ...cells);
      }));
      notes("progress-notes", table.notes);
      show("progress-section");
    } catch (error) {
      say(`Could not load pathway progress: ${error.message}`, "error");
    }
  }

  async function onKey() {
    say(""); // a new key: earlier problems no longer apply
    show("gaps-section");
    await showGaps();
    await showProgress();
  }

  document.getElementById("gaps-form").addEventListener("submit", showGaps);
  digipath.setUpKey(onKey);
})();
