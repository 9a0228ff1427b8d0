// RevSearch UI: pick, drop, paste or shoot a photo -> POST /api/search -> results grid.
// On the photo: the region searched is outlined, the other cars found are dashed buttons
// ("Search this car"), and dragging draws a region to search instead (the `box` field).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const dropZone = $("drop-zone");
  const preview = $("preview");
  const fileInput = $("file-input");
  const cameraInput = $("camera-input");
  const slider = $("k");
  const sliderValue = $("k-value");
  const statusLine = $("status");
  const errorLine = $("error");
  const predictionLine = $("prediction");
  const doubtLine = $("prediction-doubt");
  const results = $("results");
  const viewer = $("viewer");
  const viewerImage = $("viewer-image");
  const viewerCaption = $("viewer-caption");
  const frame = $("preview-frame");
  const layer = $("preview-boxes");
  const regionBar = $("region-bar");
  const regionCaption = $("region-caption");
  const wholeButton = $("whole-photo");

  // Friendlier words for the API's error codes; the server's message follows.
  const ERROR_HINTS = {
    unsupported_media_type: "That file is not an image we can read. Try a JPEG, PNG, WebP or HEIC photo.",
    invalid_image: "That image looks damaged or incomplete.",
    image_too_large: "That image is too large.",
    bad_parameter: "The search request was not valid.",
  };
  const SLIDER_DELAY_MS = 200;
  const DRAG_START_PX = 4; // a press that moves less than this is a click, not a drag
  const MIN_REGION_PX = 8; // the smallest region searched, in the photo's own pixels
  const SAME_CAR_IOU = 0.7; // a found car overlapping the searched region this much is it

  let maxUploadBytes = null; // from /api/stats, to refuse big files before uploading them
  let currentFile = null;
  let previewUrl = null;
  let inFlight = null;
  let sliderTimer = null;
  // The regions of the photo. Boxes are [x1, y1, x2, y2] in the photo's natural pixels.
  let photoCars = []; // every car the last search without a box found: kept to switch between
  let autoBox = null; // the region the server chose itself (the last search without a box)
  let chosen = null; // {box, how: "car" | "drawn" | "whole"}: the region the user asked for
  let shown = null; // {box, how, pending}: what the outline and the caption show
  let drag = null; // a press on the photo, and its rubber band once it moves
  let swallowClick = false; // the click that ends a drag is not a click on a car's box

  function setError(message) {
    errorLine.textContent = message;
    errorLine.hidden = !message;
  }

  function clearResults() {
    results.replaceChildren();
    predictionLine.hidden = true;
    predictionLine.replaceChildren();
    doubtLine.hidden = true;
  }

  function showPreview(file) {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    photoCars = [];
    autoBox = null;
    chosen = null;
    shown = null;
    cancelDrag();
    drawRegions();
    preview.hidden = false;
    frame.hidden = false;
    preview.src = previewUrl;
  }

  function hidePreview() {
    preview.hidden = true;
    frame.hidden = true;
    cancelDrag();
    drawRegions();
  }

  // Formats the browser cannot display (e.g. HEIC on desktop) still search fine.
  preview.addEventListener("error", hidePreview);
  preview.addEventListener("load", () => {
    placeLayer();
    drawRegions();
  });

  function megabytes(bytes) {
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function useFile(file) {
    if (!file) return;
    if (maxUploadBytes && file.size > maxUploadBytes) {
      currentFile = null;
      hidePreview();
      clearResults();
      statusLine.textContent = "";
      setError(`That image is too large (${megabytes(file.size)}; the limit is ${megabytes(maxUploadBytes)}).`);
      return;
    }
    currentFile = file;
    showPreview(file);
    search();
  }

  function describeError(status, body) {
    const error = body && body.error;
    if (!error) return `The search failed (HTTP ${status}). Please try again.`;
    const hint = ERROR_HINTS[error.code];
    return hint ? `${hint} (${error.message})` : error.message;
  }

  async function search() {
    if (!currentFile) return;
    if (inFlight) inFlight.abort(); // the newest request wins
    const controller = new AbortController();
    inFlight = controller;
    const form = new FormData();
    form.append("image", currentFile, currentFile.name || "photo");
    form.append("k", slider.value);
    const asked = chosen;
    if (asked) {
      form.append("box", asked.box.join(","));
      shown = { box: asked.box, how: asked.how, pending: true };
      drawRegions();
    }
    setError("");
    statusLine.textContent = "Searching…";
    results.setAttribute("aria-busy", "true");
    try {
      const response = await fetch("/api/search", { method: "POST", body: form, signal: controller.signal });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        clearResults();
        statusLine.textContent = "";
        setError(describeError(response.status, body));
        if (shown) shown = { ...shown, pending: false, failed: true };
        drawRegions();
        return;
      }
      render(body);
      showRegions(body, asked);
    } catch (error) {
      if (error.name === "AbortError") return;
      clearResults();
      statusLine.textContent = "";
      if (shown) shown = { ...shown, pending: false, failed: true };
      drawRegions();
      setError("Could not reach the server. Check your connection and try again.");
    } finally {
      if (inFlight === controller) {
        inFlight = null;
        results.removeAttribute("aria-busy");
      }
    }
  }

  // ---- Regions on the photo -------------------------------------------------------------

  function photoSize() {
    return preview.hidden ? null : [preview.naturalWidth, preview.naturalHeight];
  }

  function photoReady() {
    const size = photoSize();
    return Boolean(currentFile && size && size[0] > 0 && size[1] > 0);
  }

  function isWhole(box) {
    const [width, height] = photoSize() || [0, 0];
    return box[0] <= 1 && box[1] <= 1 && box[2] >= width - 1 && box[3] >= height - 1;
  }

  function iou(a, b) {
    const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
    const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
    const inter = w * h;
    const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return union > 0 ? inter / union : 0;
  }

  // The layer of boxes covers exactly the picture inside the <img> (object-fit: contain);
  // the boxes in it are placed in percents of the photo, so they follow every resize.
  function placeLayer() {
    const size = photoSize();
    if (!size || !size[0] || !size[1]) return;
    const [width, height] = size;
    const image = preview.getBoundingClientRect();
    const outer = frame.getBoundingClientRect();
    const scale = Math.min(image.width / width, image.height / height);
    const shownWidth = width * scale;
    const shownHeight = height * scale;
    layer.style.left = `${image.left - outer.left + (image.width - shownWidth) / 2}px`;
    layer.style.top = `${image.top - outer.top + (image.height - shownHeight) / 2}px`;
    layer.style.width = `${shownWidth}px`;
    layer.style.height = `${shownHeight}px`;
  }
  new ResizeObserver(placeLayer).observe(preview);
  window.addEventListener("resize", placeLayer);

  function placeBox(element, box) {
    const [width, height] = photoSize();
    element.style.left = `${(box[0] / width) * 100}%`;
    element.style.top = `${(box[1] / height) * 100}%`;
    element.style.width = `${((box[2] - box[0]) / width) * 100}%`;
    element.style.height = `${((box[3] - box[1]) / height) * 100}%`;
    element.dataset.box = box.join(",");
    return element;
  }

  // After an answer: what was searched, and (from a search without a box) the cars found.
  function showRegions(body, asked) {
    const cars = Array.isArray(body.cars) ? body.cars : [];
    const searched = Array.isArray(body.query_box) && body.query_box.length === 4 ? body.query_box : null;
    if (!asked) {
      photoCars = cars;
      autoBox = searched;
    }
    shown = { box: searched || (asked ? asked.box : null), how: asked ? asked.how : "auto", pending: false };
    drawRegions();
  }

  function carName(index) {
    return `Search this car (car ${index + 1} of ${photoCars.length} found)`;
  }

  function drawRegions() {
    const focused = document.activeElement;
    const hadFocus = layer.contains(focused) && focused.classList.contains("car-box");
    const focusedIndex = hadFocus ? focused.dataset.index : null;
    layer.replaceChildren();
    if (!photoReady() || !shown) {
      regionBar.hidden = true;
      wholeButton.hidden = true;
      return;
    }
    const searched = shown.box && !isWhole(shown.box) ? shown.box : null;
    if (searched) {
      const outline = document.createElement("div");
      outline.className = "query-box";
      outline.setAttribute("aria-hidden", "true");
      layer.append(placeBox(outline, searched));
    }
    const others = photoCars
      .map((car, index) => ({ ...car, index }))
      .filter((car) => !shown.box || iou(car.box, shown.box) < SAME_CAR_IOU);
    for (const car of others) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "car-box";
      button.dataset.index = car.index;
      button.dataset.score = car.score;
      button.setAttribute("aria-label", carName(car.index));
      button.title = "Search this car";
      const tag = document.createElement("span");
      tag.className = "car-tag";
      tag.textContent = "Search this car";
      tag.setAttribute("aria-hidden", "true");
      button.append(tag);
      button.addEventListener("click", () => choose({ box: car.box.slice(), how: "car" }));
      layer.append(placeBox(button, car.box));
    }
    regionCaption.textContent = caption(shown, searched, others.length);
    regionBar.hidden = false;
    wholeButton.hidden = !searched;
    if (hadFocus) {
      const again = layer.querySelector(`.car-box[data-index="${focusedIndex}"]`);
      // The box pressed became the region searched: the next stop is "whole photo".
      const next = again || (wholeButton.hidden ? layer.querySelector(".car-box") : wholeButton);
      if (next) next.focus();
    }
  }

  function caption(state, searched, others) {
    const total = photoCars.length;
    const leads = {
      auto: searched ? "the car outlined" : "the whole photo",
      car: "the car you picked",
      drawn: "the region you drew",
      whole: "the whole photo",
    };
    const what = leads[state.how] || leads.auto;
    if (state.pending) return `Searching ${what}…`;
    if (state.failed) return `Could not search ${what}.`;
    let more;
    if (others) {
      const found = `${total} ${total === 1 ? "car" : "cars"} found`;
      const onCar = searched && (state.how === "auto" || state.how === "car");
      const click = total === 1 && others === 1
        ? "click its box to search it"
        : `click a box to search ${onCar ? "another" : "one"}`;
      more = ` (${found}: ${click}).`;
    } else {
      more = ". Drag on the photo to search one part of it.";
    }
    return `Searched ${what}${more}`; // Esc (or a new photo) starts over
  }

  function choose(region) {
    chosen = region;
    search();
  }

  // Esc, or a search without a box: the server chooses the region again.
  function startOver() {
    if (!chosen) return;
    chosen = null;
    search();
  }

  wholeButton.addEventListener("click", () => {
    const [width, height] = photoSize() || [0, 0];
    if (autoBox && isWhole(autoBox)) {
      startOver(); // a search without a box searches the whole photo anyway
    } else if (width && height) {
      choose({ box: [0, 0, width, height], how: "whole" });
    }
  });

  // Drag on the photo to draw a region (mouse, pen or finger: pointer events).
  function naturalPoint(event) {
    const rect = layer.getBoundingClientRect();
    const [width, height] = photoSize();
    const x = Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1);
    const y = Math.min(Math.max((event.clientY - rect.top) / rect.height, 0), 1);
    return [x * width, y * height];
  }

  function regionBetween(a, b) {
    const [width, height] = photoSize();
    return [
      Math.max(0, Math.floor(Math.min(a[0], b[0]))),
      Math.max(0, Math.floor(Math.min(a[1], b[1]))),
      Math.min(width, Math.ceil(Math.max(a[0], b[0]))),
      Math.min(height, Math.ceil(Math.max(a[1], b[1]))),
    ];
  }

  function cancelDrag() {
    if (!drag) return;
    if (drag.band) drag.band.remove();
    if (frame.hasPointerCapture(drag.id)) frame.releasePointerCapture(drag.id);
    drag = null;
  }

  frame.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !photoReady() || !event.isPrimary) return;
    cancelDrag();
    drag = { id: event.pointerId, x: event.clientX, y: event.clientY, start: naturalPoint(event), band: null };
    // No native image drag or text selection; a press on a car's box still focuses it.
    if (!event.target.closest(".car-box")) event.preventDefault();
  });

  frame.addEventListener("pointermove", (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    if (!drag.band) {
      if (Math.hypot(event.clientX - drag.x, event.clientY - drag.y) < DRAG_START_PX) return;
      // Captured only once it is a drag, so a plain click still reaches a car's box.
      frame.setPointerCapture(event.pointerId);
      drag.band = document.createElement("div");
      drag.band.className = "draw-box";
      drag.band.setAttribute("aria-hidden", "true");
      layer.append(drag.band);
    }
    placeBox(drag.band, regionBetween(drag.start, naturalPoint(event)));
  });

  frame.addEventListener("pointerup", (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    const done = drag;
    const box = done.band ? regionBetween(done.start, naturalPoint(event)) : null;
    cancelDrag();
    if (!box) return;
    swallowClick = true;
    setTimeout(() => { swallowClick = false; }, 0);
    if (box[2] - box[0] >= MIN_REGION_PX && box[3] - box[1] >= MIN_REGION_PX) {
      choose({ box, how: "drawn" });
    }
  });

  frame.addEventListener("pointercancel", cancelDrag);
  frame.addEventListener("click", (event) => {
    if (!swallowClick) return;
    swallowClick = false;
    event.preventDefault();
    event.stopPropagation();
  }, true);

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented || viewer.open) return;
    if (drag) {
      cancelDrag();
    } else if (chosen) {
      startOver();
    }
  });

  function percent(value) {
    return `${Math.round(value * 100)}%`;
  }

  function render(body) {
    const items = body.results.map(resultItem);
    results.replaceChildren(...items);
    const total = Math.round(body.timings_ms.total);
    statusLine.textContent = items.length
      ? `${items.length} similar ${items.length === 1 ? "car" : "cars"} (${total} ms)`
      : "No similar cars found.";
    const prediction = body.prediction;
    if (prediction) {
      const name = document.createElement("strong");
      name.textContent = prediction.class_name;
      predictionLine.replaceChildren("This looks like: ", name, ` (${percent(prediction.confidence)})`);
      predictionLine.hidden = false;
      const others = prediction.candidates.slice(1).map((c) => `${c.class_name} (${percent(c.probability)})`);
      doubtLine.textContent = others.length ? `Not sure. It could also be: ${others.join(", ")}.` : "Not sure.";
      doubtLine.hidden = prediction.sure;
    } else {
      predictionLine.hidden = true;
      doubtLine.hidden = true;
    }
  }

  function label(result) {
    return result.class_name || [result.make, result.year].filter(Boolean).join(" ") || "Unlabelled car";
  }

  function resultItem(result) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "result";
    button.dataset.id = result.id;
    button.dataset.score = result.score;
    const name = label(result);
    const same = result.same_image ? ", the same photo as yours" : "";
    button.setAttribute(
      "aria-label", `${name}, similarity ${result.score.toFixed(3)}${same}. Show large`);

    const image = document.createElement("img");
    image.src = result.thumbnail_url;
    image.alt = name;
    const title = document.createElement("span");
    title.className = "name";
    title.textContent = name;
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = `similarity ${result.score.toFixed(3)}`;

    button.append(image, title, score);
    if (result.same_image) {
      const badge = document.createElement("span");
      badge.className = "same-photo";
      badge.textContent = "Same photo";
      button.append(badge);
    }
    button.addEventListener("click", () => openViewer(result, name));
    item.append(button);
    return item;
  }

  function openViewer(result, name) {
    viewerImage.src = result.image_url;
    viewerImage.alt = name;
    viewerCaption.textContent = `${name} — similarity ${result.score.toFixed(3)}`;
    viewer.showModal();
  }

  // A click on the dimmed backdrop (the dialog itself, outside its content) closes it.
  viewer.addEventListener("click", (event) => {
    if (event.target === viewer) viewer.close();
  });

  for (const input of [fileInput, cameraInput]) {
    input.addEventListener("change", () => {
      useFile(input.files[0]);
      input.value = ""; // picking the same file again still triggers a search
    });
  }

  slider.addEventListener("input", () => {
    sliderValue.textContent = slider.value;
    clearTimeout(sliderTimer);
    sliderTimer = setTimeout(search, SLIDER_DELAY_MS);
  });

  dropZone.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropZone.classList.add("dragging");
  });
  dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropZone.classList.remove("dragging");
    useFile(event.dataTransfer.files[0]);
  });

  async function loadStats() {
    try {
      const response = await fetch("/api/stats");
      if (!response.ok) return;
      const stats = await response.json();
      maxUploadBytes = stats.max_upload_bytes;
      const images = stats.images.toLocaleString("en");
      $("tagline").textContent = `Find cars that look like your photo among ${images} catalog images.`;
    } catch {
      // The page works without it: the server still enforces its limits.
    }
  }
  loadStats();

  document.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData ? event.clipboardData.files : [])];
    const image = files.find((file) => file.type.startsWith("image/")) || files[0];
    if (image) {
      event.preventDefault();
      useFile(image);
    }
  });
})();
