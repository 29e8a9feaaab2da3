// Drag-and-drop on the opportunity board (a file: CSP forbids inline script). Dropping a card on a
// column posts the move through htmx, which swaps the whole board (#board) with the server's answer,
// including the reason when a move is refused. The arrow buttons on each card do the same without a mouse.
(function () {
  var dragged = null;

  function filters() {
    var form = document.getElementById("board-filters");
    var values = {};
    if (form) new FormData(form).forEach(function (value, key) { values[key] = value; });
    return values;
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".crm-card[draggable='true']");
    if (!card) return;
    dragged = card;
    card.classList.add("crm-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.opportunity);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("crm-dragging");
    dragged = null;
    document.querySelectorAll(".crm-drop-target").forEach(function (el) { el.classList.remove("crm-drop-target"); });
  });

  document.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".crm-column");
    if (!dragged || !column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("crm-drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".crm-column");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("crm-drop-target");
  });

  document.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".crm-column");
    if (!dragged || !column) return;
    event.preventDefault();
    var card = dragged;
    column.classList.remove("crm-drop-target");
    if (card.closest(".crm-column") === column) return;
    var values = filters();
    values.to_stage = column.dataset.stageId;
    values.from = "board";
    window.htmx.ajax("POST", card.dataset.advanceUrl, {source: card, target: "#board", swap: "outerHTML", values: values});
  });
})();
