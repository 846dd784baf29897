// Export Gate review pages: small progressive enhancements; the pages work without this script.
document.addEventListener("DOMContentLoaded", () => {
  // A click anywhere on a decision row opens it (the id cell keeps a real link for keyboards).
  for (const row of document.querySelectorAll("table.records tr[data-href]")) {
    row.style.cursor = "pointer";
    row.addEventListener("click", (event) => {
      if (!event.target.closest("a")) window.location.href = row.dataset.href;
    });
  }
  // Changing the decision filter applies it at once.
  const action = document.querySelector("form.filters select[name=action]");
  if (action) action.addEventListener("change", () => action.form.submit());
});
