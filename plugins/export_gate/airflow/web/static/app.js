// Export Gate review pages: small enhancements; every page works without this script (in English, in UTC,
// light or by the system's colour preference). Loaded in <head> so the theme applies before the first paint.
"use strict";
(() => {
  const root = document.documentElement;
  const stored = (key) => {
    try {
      const value = window.localStorage.getItem(key);
      if (value === null) return null;
      try { return JSON.parse(value); } catch { return value; } // Airflow stores some values as JSON strings
    } catch { return null; }
  };
  // The Airflow UI around this page when it is shown in Airflow's iframe (same origin), else null.
  const airflowWindow = (() => {
    try {
      return window.top !== window && window.top.document ? window.top : null;
    } catch { return null; }
  })();

  // Theme: follow the Airflow UI (its <html> carries class "dark" or "light"; the choice is in local storage
  // under "theme", shared with this page); "system" or nothing leaves it to prefers-color-scheme (style.css).
  const applyTheme = () => {
    let theme = null;
    const outer = airflowWindow && airflowWindow.document.documentElement.classList;
    if (outer && outer.contains("dark")) theme = "dark";
    else if (outer && outer.contains("light")) theme = "light";
    else if (["dark", "light"].includes(stored("theme"))) theme = stored("theme");
    if (theme) root.dataset.theme = theme;
    else delete root.dataset.theme;
  };
  applyTheme();
  if (airflowWindow) {
    new MutationObserver(applyTheme).observe(airflowWindow.document.documentElement, {
      attributes: true, attributeFilter: ["class", "style"],
    });
  }
  window.addEventListener("storage", applyTheme);

  // Language: Airflow keeps it under "i18nextLng"; the server renders the page in it once it knows, through
  // a cookie (one reload the first time, and when the Airflow language changes).
  const airflowLang = stored("i18nextLng");
  if (typeof airflowLang === "string" && airflowLang) {
    const wanted = airflowLang.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
    document.cookie = `export_gate_lang=${wanted}; path=/; SameSite=Strict`;
    const key = `export-gate-lang-reload:${wanted}`;
    if (root.lang !== wanted && !window.sessionStorage.getItem(key)) {
      window.sessionStorage.setItem(key, "1");
      window.location.reload();
      return;
    }
  }

  // Time zone: Airflow's chosen one ("timezone" in local storage), else the browser's.
  const zone = (() => {
    const chosen = stored("timezone");
    for (const candidate of [chosen, Intl.DateTimeFormat().resolvedOptions().timeZone]) {
      if (typeof candidate !== "string" || !candidate) continue;
      try {
        new Intl.DateTimeFormat("en-CA", { timeZone: candidate });
        return candidate;
      } catch { /* not a zone this browser knows: try the next */ }
    }
    return "UTC";
  })();
  const showTimes = () => {
    const format = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23", timeZoneName: "short",
    });
    for (const node of document.querySelectorAll("time[datetime]")) {
      const text = node.getAttribute("datetime");
      if (text.length <= 10) continue; // a date alone (an export's day) stays as written
      const moment = new Date(text);
      if (Number.isNaN(moment.getTime())) continue;
      node.title = `${text} (UTC)`;
      node.dataset.zone = zone;
      node.textContent = format.format(moment).replace(",", "");
    }
  };

  // Links inside Airflow's iframe (sandboxed: no top navigation, no popups). Airflow pages open through the
  // Airflow UI's own router (same origin: push the path and let it render); other sites open in a new tab
  // through a link in the Airflow window, which may open one.
  const followInAirflow = (link, event) => {
    if (!airflowWindow) return;
    event.preventDefault();
    const url = new URL(link.href, window.location.href);
    try {
      airflowWindow.history.pushState(null, "", url.pathname + url.search + url.hash);
      airflowWindow.dispatchEvent(new PopStateEvent("popstate", { state: null }));
    } catch {
      window.location.href = url.href; // cannot reach the router: open it in this frame instead
    }
  };
  const openOutside = (link, event) => {
    if (!airflowWindow) return;
    event.preventDefault();
    try {
      const outer = airflowWindow.document.createElement("a");
      outer.href = link.href;
      outer.target = "_blank";
      outer.rel = "noopener noreferrer";
      airflowWindow.document.body.appendChild(outer);
      outer.click();
      outer.remove();
    } catch {
      window.location.href = link.href;
    }
  };

  document.addEventListener("DOMContentLoaded", () => {
    showTimes();
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a");
      if (link && link.classList.contains("airflow-link")) followInAirflow(link, event);
      else if (link && link.classList.contains("external-link")) openOutside(link, event);
    });
    // A click anywhere on a decision row opens it (the id cell keeps a real link for keyboards).
    for (const row of document.querySelectorAll("table.records tr[data-href]")) {
      row.style.cursor = "pointer";
      row.addEventListener("click", (event) => {
        if (!event.target.closest("a")) window.location.href = row.dataset.href;
      });
    }
    // Changing a decision, event or sort choice applies it at once.
    for (const select of document.querySelectorAll("form.filters select")) {
      select.addEventListener("change", () => select.form.submit());
    }
  });
})();
