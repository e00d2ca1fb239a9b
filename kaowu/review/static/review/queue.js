// Review queue: "select all on this page". Without script, rows are ticked one by one.
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (!all) return;
  for (const box of all.closest("form").querySelectorAll("input[name=applications]")) box.checked = all.checked;
});
