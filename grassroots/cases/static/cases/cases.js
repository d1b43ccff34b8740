// Cases pages: "Use my location" fills the latitude and longitude inputs from the browser's
// geolocation (no map tiles are needed). The button shows only where geolocation is available.
(function () {
  "use strict";

  function setup(root) {
    root.querySelectorAll("[data-geolocate]").forEach(function (button) {
      if (navigator.geolocation && window.isSecureContext) {
        button.hidden = false;
      }
    });
  }

  function fill(input, value) {
    if (!input) return;
    input.value = value.toFixed(6);
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-geolocate]");
    if (!button) return;
    var form = button.closest("form");
    var status = form.querySelector("[data-geolocate-status]");
    var say = function (text) { if (status) status.textContent = text; };
    say(button.dataset.waiting || "…");
    navigator.geolocation.getCurrentPosition(
      function (position) {
        fill(form.querySelector("[name=lat]"), position.coords.latitude);
        fill(form.querySelector("[name=lng]"), position.coords.longitude);
        say("± " + Math.round(position.coords.accuracy) + " m");
      },
      function (error) { say(error.message); },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });

  document.addEventListener("DOMContentLoaded", function () { setup(document); });
})();
