// The live feed: new notifications appear at the top of the list (no page reload).
// The page works without this script; it only listens to /notifications/flux.
(function () {
  "use strict";
  var list = document.getElementById("fil");
  if (!list || !window.EventSource) { return; }
  var counter = document.getElementById("non-lus");
  var source = new EventSource("/notifications/flux");
  source.addEventListener("unread", function (event) {
    if (counter) { counter.textContent = String(JSON.parse(event.data).unread); }
  });
  source.addEventListener("item", function (event) {
    var item = JSON.parse(event.data);
    var empty = list.querySelector(".relais-empty");
    if (empty) { list.removeChild(empty); }
    var li = document.createElement("li");
    li.className = "fr-mb-2w relais-unread";
    var title = document.createElement(item.link ? "a" : "span");
    if (item.link) { title.href = item.link; }
    title.textContent = item.title;  // text, never HTML
    li.appendChild(title);
    list.insertBefore(li, list.firstChild);
  });
})();
