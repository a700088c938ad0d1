// The public badge page's "Copy link" button (assertion.html); a file, as the page's CSP allows no inline script.
document.getElementById("copy-link").addEventListener("click", function (ev) {
  var url = ev.target.dataset.url;
  (navigator.clipboard ? navigator.clipboard.writeText(url) : Promise.reject()).catch(function () {
    var t = document.getElementById("embed"); t.value = url; t.select(); document.execCommand("copy");
  }).finally(function () { document.getElementById("copied").hidden = false; });
});
