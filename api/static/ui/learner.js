// The learner's side of the reference interface: start a diagnostic, answer item by item (keyboard works:
// Tab to the options, arrows to choose, Tab and Enter to answer), then the profile and the pathway.
"use strict";

(() => {
  const { api, el, show, say, percent } = digipath;
  let current = null; // {sessionId, learnerId, role, language, item}

  function levelName(scheme, level) {
    const name = scheme && scheme.levels ? scheme.levels[level - 1] : undefined;
    if (name === undefined) return `Level ${level}`;
    return /^\d+$/.test(String(name)) ? `Level ${name}` : String(name);
  }

  async function loadRoles() {
    show("start-section");
    const select = document.getElementById("role");
    try {
      const page = await api("/v1/roles?limit=200");
      select.replaceChildren(el("option", { value: "" }, "No role"));
      for (const role of page.items) {
        select.append(el("option", { value: role.role_id }, role.title || role.role_id));
      }
    } catch (error) {
      say(`Could not load the roles: ${error.message}`, "error");
    }
  }

  function renderItem(step) {
    const item = step.item;
    current.item = item;
    const progress = step.progress || {};
    document.getElementById("item-heading").textContent = `Question ${item.sequence}`;
    const left = progress.min_items_left === progress.max_items_left
      ? `${progress.max_items_left} left`
      : `between ${progress.min_items_left} and ${progress.max_items_left} left`;
    document.getElementById("item-progress").textContent =
      `${progress.answered} answered, ${left} (at most ${progress.max_items} in all).`;
    const fieldset = document.getElementById("item-fieldset");
    fieldset.setAttribute("lang", item.language); // screen readers pronounce the content's language
    document.getElementById("item-stem").textContent = item.stem;
    const options = document.getElementById("item-options");
    options.replaceChildren();
    item.options.forEach((text, index) => {
      const id = `option-${item.sequence}-${index}`;
      options.append(el("div", { class: "option" },
        el("input", { type: "radio", name: "answer", id, value: index }),
        el("label", { for: id }, text)));
    });
    document.getElementById("answer-button").disabled = false;
    show("start-section", false);
    show("item-section");
    document.getElementById("item-heading").focus();
  }

  async function onStep(step) {
    current.sessionId = step.session_id;
    if (step.status === "finished") {
      show("item-section", false);
      await showProfile();
    } else {
      renderItem(step);
    }
  }

  async function start(event) {
    event.preventDefault();
    const form = event.target;
    if (!form.reportValidity()) return;
    const learnerId = document.getElementById("learner-id").value.trim();
    const role = document.getElementById("role").value || null;
    const language = document.getElementById("language").value || "en";
    current = { learnerId, role, language };
    say("Starting ...");
    try {
      const body = { learner_id: learnerId, language };
      if (role) body.role = role;
      const step = await api("/v1/diagnostics", { method: "POST", body });
      say("");
      await onStep(step);
    } catch (error) {
      say(`Could not start: ${error.message}`, "error");
    }
  }

  async function answer(event) {
    event.preventDefault();
    const chosen = document.querySelector('input[name="answer"]:checked');
    if (!chosen) {
      say("Choose an answer first.", "error");
      document.querySelector('input[name="answer"]').focus();
      return;
    }
    const button = document.getElementById("answer-button");
    button.disabled = true; // one answer per click: a double click must not send two
    say("");
    const item = current.item;
    try {
      const step = await api(`/v1/diagnostics/${encodeURIComponent(current.sessionId)}/responses`, {
        method: "POST",
        body: { item_id: item.id, answer: Number(chosen.value), sequence: item.sequence },
      });
      await onStep(step);
    } catch (error) {
      button.disabled = false;
      say(`The answer was not recorded: ${error.message}`, "error");
    }
  }

  function distribution(area, probabilities, scheme, best) {
    const labels = probabilities.map((p, k) => `${levelName(scheme, k + 1)} ${percent(p)}`
      + (k + 1 === best ? " (most likely)" : ""));
    const chart = el("div", { class: "dist", role: "img",
      "aria-label": `Probability of each level in ${area}: ${labels.join(", ")}` });
    probabilities.forEach((p, k) => {
      const level = k + 1;
      const bar = el("span", { class: "bar" });
      bar.style.height = `${Math.max(2, Math.round(60 * p))}px`;
      // the mark sits above the percentage: the columns align at the bottom, so the bars stay level
      chart.append(el("span", { class: level === best ? "col best" : "col" },
        level === best ? el("span", { class: "mark" }, "most likely") : null,
        el("span", { class: "pct" }, percent(p)),
        el("span", { class: "track" }, bar),
        el("span", { class: "name" }, levelName(scheme, level))));
    });
    return chart;
  }

  function meaning(levelMeaning) {
    if (!levelMeaning) return null;
    const parts = [];
    if (levelMeaning.description) parts.push(el("p", { class: "meaning" }, levelMeaning.description));
    const skip = new Set(["level", "code", "name", "description", "group"]);
    const rows = Object.entries(levelMeaning).filter(([k, v]) => !skip.has(k) && v);
    if (rows.length) {
      const list = el("dl", { class: "descriptors" });
      for (const [k, v] of rows) {
        const term = k.replace(/_/g, " ");
        list.append(el("dt", {}, term.charAt(0).toUpperCase() + term.slice(1)), el("dd", {}, String(v)));
      }
      parts.push(list);
    }
    return parts;
  }

  function renderArea(areaId, result) {
    const explained = result.explanation.areas[areaId] || {};
    const scored = result.profile.areas[areaId];
    const scheme = (result.profile.framework || {}).level_scheme;
    const after = (result.levels || {})[areaId] || {};
    const level = after.level || scored.level;
    const group = explained.level_meaning && explained.level_meaning.group;
    const name = explained.name || `Area ${areaId}`;
    const range = explained.level_range || [level, level];
    const headingId = `area-${areaId}-name`;
    const overridden = after.level && after.scored_level && after.level !== after.scored_level;
    return el("article", { class: "area", "aria-labelledby": headingId },
      el("h3", { id: headingId }, el("span", { class: "area-id" }, `${areaId} `), name),
      el("p", { class: "level" }, "Level: ", el("strong", {}, levelName(scheme, level)),
        group ? ` (${group})` : null,
        scheme && scheme.levels ? el("span", { class: "help" }, ` · ${level} of ${scheme.levels.length}`) : null),
      overridden ? el("p", { class: "note" },
        `Reviewed by a person: changed from ${levelName(scheme, after.scored_level)}.`) : null,
      meaning(explained.level_meaning),
      el("p", { class: "uncertainty" },
        el("strong", {}, "90% certain: "),
        range[0] === range[1] ? levelName(scheme, range[0])
          : `between ${levelName(scheme, range[0])} and ${levelName(scheme, range[1])}`,
        ` · ${explained.precision || "unknown"} precision (SE ${Number(scored.se).toFixed(2)}, `
          + `${explained.items ?? scored.n_items} items)`),
      scored.level_probabilities ? distribution(name, scored.level_probabilities, scheme, scored.level) : null);
  }

  async function showProfile() {
    say("Loading your profile ...");
    const sid = encodeURIComponent(current.sessionId);
    let result;
    try {
      result = await api(`/v1/diagnostics/${sid}/result`);
    } catch (error) {
      say(`Could not load the result: ${error.message}`, "error");
      return;
    }
    const framework = result.profile.framework || result.explanation.framework || {};
    document.getElementById("profile-intro").textContent =
      `Framework: ${framework.name || "DigComp"} ${framework.version || ""}`
      + (framework.level_scheme && framework.level_scheme.levels
        ? `, ${framework.level_scheme.levels.length} proficiency levels.` : ".")
      + " Each area shows the most likely level, how certain it is, and the probability of every level.";
    const areas = document.getElementById("profile-areas");
    areas.replaceChildren(...Object.keys(result.profile.areas).map((a) => renderArea(a, result)));
    const scoring = result.explanation.scoring || {};
    document.getElementById("scoring-method").textContent = scoring.method || "";
    await showPathway();
    say("");
    show("profile-section");
    document.getElementById("profile-heading").focus();
  }

  async function showPathway() {
    const list = document.getElementById("pathway");
    const intro = document.getElementById("pathway-intro");
    list.replaceChildren();
    const params = new URLSearchParams({ language: current.language });
    if (current.role) params.set("role", current.role);
    try {
      const pathway = await api(
        `/v1/learners/${encodeURIComponent(current.learnerId)}/pathway?${params}`);
      intro.textContent = pathway.steps.length
        ? `${pathway.steps.length} steps${pathway.role ? ` towards the role ${pathway.role}` : ""}, in order;`
          + " each says why it is there."
        : "No steps: your measured levels already meet what the role requires (or no role was chosen).";
      for (const step of pathway.steps) {
        list.append(el("li", { class: "step" },
          el("p", { class: "title" }, el("strong", {}, step.title || step.content_id)),
          el("p", { class: "help" },
            `Competence ${step.competence}${step.competence_name ? ` ${step.competence_name}` : ""}`
            + (step.level ? `, level ${step.level}` : "")),
          step.reason ? el("p", { class: "reason" }, el("strong", {}, "Why: "), step.reason) : null));
      }
    } catch (error) {
      intro.textContent = `The pathway could not be loaded: ${error.message}`;
    }
  }

  document.getElementById("start-form").addEventListener("submit", start);
  document.getElementById("answer-form").addEventListener("submit", answer);
  document.getElementById("again").addEventListener("click", () => {
    show("profile-section", false);
    show("start-section");
    document.getElementById("learner-id").focus();
  });
  digipath.setUpKey(loadRoles);
})();
