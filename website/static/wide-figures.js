// A course figure is drawn large for the lecture hall; squeezed into the text column its
// labels would be a few pixels high. Let a figure wider than its column span the window
// (centred, 16 px from each edge) and open at full size on a click.
function courseWidenFigures() {
  document.querySelectorAll("div.cell_output img").forEach((img) => {
    if (!img.complete || !img.naturalWidth) {
      img.addEventListener("load", courseWidenFigures, { once: true });
      return;
    }
    img.classList.remove("course-wide");
    img.style.width = "";
    img.style.marginLeft = "";
    const box = img.parentElement.getBoundingClientRect();
    if (img.naturalWidth <= box.width + 1) return;
    const width = Math.min(img.naturalWidth, window.innerWidth - 32);
    img.classList.add("course-wide");
    img.style.width = width + "px";
    img.style.marginLeft = (window.innerWidth - width) / 2 - box.left + "px";
  });
}
window.addEventListener("load", courseWidenFigures);
window.addEventListener("resize", courseWidenFigures);
document.addEventListener("click", (event) => {
  const zoom = document.querySelector(".course-zoom");
  if (zoom) return zoom.remove();
  if (!event.target.matches("img.course-wide")) return;
  const layer = document.createElement("div");
  layer.className = "course-zoom";
  const big = document.createElement("img");
  big.src = event.target.src;
  big.alt = event.target.alt;
  layer.appendChild(big);
  document.body.appendChild(layer);
});
