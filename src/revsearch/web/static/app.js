// RevSearch UI: pick, drop, paste or shoot a photo -> one upload (POST /api/search) -> results.
// The answer's query_id then re-queries without the photo (GET /api/search/{id}): another k,
// filters or region. The address holds the search (/?q=<id>, /?similar=<image id>, filters,
// k, box), so reloading or sharing it shows the same results.
// On the photo: the region searched is outlined, the other cars found are dashed buttons
// ("Search this car"), and dragging draws a region to search instead (the `box` field).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const dropZone = $("drop-zone");
  const preview = $("preview");
  const queryCaption = $("query-caption");
  const fileInput = $("file-input");
  const cameraInput = $("camera-input");
  const slider = $("k");
  const sliderValue = $("k-value");
  const makeSelect = $("make");
  const yearMin = $("year-min");
  const yearMax = $("year-max");
  const minScore = $("min-score");
  const minScoreValue = $("min-score-value");
  const clearFiltersButton = $("clear-filters");
  const statusLine = $("status");
  const errorLine = $("error");
  const answer = $("answer");
  const predictionLine = $("prediction");
  const doubtLine = $("prediction-doubt");
  const nothing = $("nothing");
  const results = $("results");
  const viewer = $("viewer");
  const viewerImage = $("viewer-image");
  const viewerCaption = $("viewer-caption");
  const viewerDetails = $("viewer-details");
  const viewerScore = $("viewer-score");
  const viewerSimilar = $("viewer-similar");
  const frame = $("preview-frame");
  const layer = $("preview-boxes");
  const regionBar = $("region-bar");
  const regionCaption = $("region-caption");
  const wholeButton = $("whole-photo");
  const uploadBar = $("upload");
  const uploadLabel = $("upload-label");
  const uploadProgress = $("upload-progress");

  // Plain words for the API's error codes; the server's message is shown only for the rest.
  const ERROR_HINTS = {
    unsupported_media_type: "That file is not an image we can read. Try a JPEG, PNG, WebP or HEIC photo.",
    invalid_image: "That image looks damaged or incomplete. Try another copy of the photo.",
    image_too_large: "That image is too large. Try a smaller photo.",
    bad_parameter: "The search settings were not valid.",
    request_timeout: "The upload took too long. Check your connection and try again.",
    query_expired: "This search has expired. Drop the photo again to search it.",
    not_found: "That catalog image is not there any more.",
    rate_limited: "Too many at once. Please wait a moment.",
  };
  const FILTER_DELAY_MS = 250;
  const SHRINK_SIDE = 1280; // photos larger than this are shrunk in the browser before upload
  const SHRINK_BYTES = 1.5 * 1024 * 1024; // ... and so are files heavier than this
  const SHRINK_QUALITY = 0.9;
  const DEFAULT_K = "6";
  const DRAG_START_PX = 4; // a press that moves less than this is a click, not a drag
  const MIN_REGION_PX = 8; // the smallest region searched, in the photo's own pixels
  const SAME_CAR_IOU = 0.7; // a found car overlapping the searched region this much is it
  const FILTERS = [
    ["make", makeSelect],
    ["year_min", yearMin],
    ["year_max", yearMax],
    ["min_score", minScore],
  ];

  let maxUploadBytes = null; // from /api/stats, to refuse big files before uploading them
  // The search on screen: {kind: "upload", id, file, photoSize} or {kind: "similar", id}.
  let query = null;
  let lastUpload = null; // the latest uploaded search, kept for the back button
  let previewUrl = null;
  let inFlight = null; // {abort()} of the request under way
  let filterTimer = null;
  let shownResults = []; // the results on screen, for the large view's previous / next
  let viewing = -1; // index in shownResults of the result in the large view
  let lastBody = null; // the answer on screen
  let classesLoaded = null;
  // The regions of the photo. Boxes are [x1, y1, x2, y2] in the photo's own pixels.
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
    shownResults = [];
    lastBody = null;
    answer.hidden = true;
    predictionLine.replaceChildren();
    doubtLine.hidden = true;
    nothing.hidden = true;
  }

  function megabytes(bytes) {
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function seconds(ms) {
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  // ---- The photo: shrunk before upload, previewed as sent --------------------------------

  // A big photo is redrawn at SHRINK_SIDE as JPEG, upright (EXIF orientation applied): a
  // 4000 x 3000 phone photo then sends a few hundred KB. What the browser cannot decode
  // (HEIC on most desktops) is sent as it is; the server previews it.
  async function shrink(file) {
    if (typeof createImageBitmap !== "function") return file;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch {
      return file;
    }
    const scale = Math.min(1, SHRINK_SIDE / Math.max(bitmap.width, bitmap.height));
    if (scale === 1 && file.size <= SHRINK_BYTES) {
      bitmap.close();
      return file;
    }
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", SHRINK_QUALITY));
    if (!blob || blob.size >= file.size) return file;
    const name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
    return new File([blob], name, { type: "image/jpeg" });
  }

  function showPreview(source, caption) {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = source instanceof Blob ? URL.createObjectURL(source) : null;
    photoCars = [];
    autoBox = null;
    shown = null;
    cancelDrag();
    drawRegions();
    preview.hidden = false;
    frame.hidden = false;
    preview.src = previewUrl || source;
    queryCaption.textContent = caption || "";
    queryCaption.hidden = !caption;
  }

  function hidePreview() {
    preview.hidden = true;
    frame.hidden = true;
    queryCaption.hidden = true;
    cancelDrag();
    drawRegions();
  }

  // Formats the browser cannot display (HEIC, AVIF on some) are shown from the server's JPEG.
  preview.addEventListener("error", () => {
    const local = Boolean(previewUrl);
    hidePreview();
    if (local && query && query.kind === "upload") {
      query.serverPreview = true;
      if (query.id) showServerPreview();
    }
  });

  function showServerPreview() {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    query.serverPreview = false;
    preview.hidden = false;
    frame.hidden = false;
    preview.src = `/api/search/${encodeURIComponent(query.id)}/photo`;
  }
  preview.addEventListener("load", () => {
    placeLayer();
    drawRegions();
  });

  async function useFile(file) {
    if (!file) return;
    setError("");
    const sent = await shrink(file);
    if (maxUploadBytes && sent.size > maxUploadBytes) {
      hidePreview();
      clearResults();
      statusLine.textContent = "";
      setError(`That image is too large (${megabytes(file.size)}; the limit is ${megabytes(maxUploadBytes)}).`);
      return;
    }
    query = { kind: "upload", id: null, file: sent, photoSize: null };
    chosen = null;
    showPreview(sent);
    upload(true);
  }

  // ---- Requests -------------------------------------------------------------------------

  function describeError(status, body) {
    const error = body && body.error;
    if (!error) return `The search failed (HTTP ${status}). Please try again.`;
    return ERROR_HINTS[error.code] || error.message;
  }

  function filterParams() {
    const params = new URLSearchParams();
    for (const [name, input] of FILTERS) {
      const value = input.value.trim();
      if (value && !(name === "min_score" && Number(value) === 0)) params.set(name, value);
    }
    return params;
  }

  function filtersSet() {
    return [...filterParams().keys()].length > 0;
  }

  // The address of what is on screen: shareable, and reloading it shows the same results.
  function pageAddress() {
    const params = new URLSearchParams();
    if (query.kind === "upload") params.set("q", query.id);
    else params.set("similar", query.id);
    if (slider.value !== DEFAULT_K) params.set("k", slider.value);
    for (const [name, value] of filterParams()) params.set(name, value);
    if (chosen && query.kind === "upload") params.set("box", chosen.box.join(","));
    return `/?${params}`;
  }

  function remember(newEntry) {
    if (!query || !query.id) return;
    const address = pageAddress();
    if (address === location.pathname + location.search) return;
    if (newEntry) history.pushState(null, "", address);
    else history.replaceState(null, "", address);
  }

  function begin() {
    if (inFlight) inFlight.abort(); // the newest request wins
    clearTimeout(filterTimer);
    setError("");
    results.classList.add("stale"); // the old results stay, dimmed, until the new ones come
    results.setAttribute("aria-busy", "true");
    const asked = chosen;
    if (asked) {
      shown = { box: asked.box, how: asked.how, pending: true };
      drawRegions();
    }
    return { asked, started: performance.now() };
  }

  function finish(request) {
    if (inFlight === request) {
      inFlight = null;
      results.classList.remove("stale");
      results.removeAttribute("aria-busy");
      uploadBar.hidden = true;
    }
  }

  function failed(message) {
    clearResults();
    statusLine.textContent = "";
    if (shown) shown = { ...shown, pending: false, failed: true };
    drawRegions();
    setError(message);
  }

  // POST the photo (once per photo; again only if the server has forgotten it), with upload
  // progress and a cancel button: XMLHttpRequest, as fetch reports no upload progress.
  function upload(newEntry) {
    const { asked, started } = begin();
    const form = new FormData();
    form.append("image", query.file, query.file.name || "photo");
    form.append("k", slider.value);
    for (const [name, value] of filterParams()) form.append(name, value);
    if (asked) form.append("box", asked.box.join(","));
    const xhr = new XMLHttpRequest();
    const request = { abort: () => xhr.abort() };
    inFlight = request;
    const sending = query;
    uploadProgress.value = 0;
    uploadLabel.textContent = `Uploading ${megabytes(query.file.size)}…`;
    uploadBar.hidden = false;
    statusLine.textContent = "Uploading…";
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      uploadProgress.value = event.loaded / event.total;
      uploadLabel.textContent = `Uploading ${Math.round((event.loaded / event.total) * 100)}%`;
    });
    xhr.upload.addEventListener("load", () => {
      uploadLabel.textContent = "Searching…";
      statusLine.textContent = "Searching…";
    });
    xhr.addEventListener("load", () => {
      finish(request);
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status !== 200 || !body) {
        failed(describeError(xhr.status, body));
        return;
      }
      sending.id = body.query_id;
      sending.photoSize = body.photo_size && body.photo_size.length === 2 ? body.photo_size : null;
      lastUpload = sending;
      if (sending === query && sending.serverPreview) showServerPreview();
      answered(body, asked, started);
      remember(newEntry);
    });
    xhr.addEventListener("error", () => {
      finish(request);
      failed("Could not reach the server. Check your connection and try again.");
    });
    xhr.addEventListener("abort", () => {
      finish(request);
      if (inFlight === null) {
        statusLine.textContent = "Upload cancelled.";
        if (shown) shown = { ...shown, pending: false };
        drawRegions();
      }
    });
    xhr.open("POST", "/api/search");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.send(form);
  }

  // Search again what is on screen: the remembered photo by its id, or a catalog image.
  async function refresh() {
    if (!query) return;
    if (query.kind === "upload" && !query.id) {
      if (query.file) upload(false);
      return;
    }
    const { asked, started } = begin();
    const controller = new AbortController();
    const request = { abort: () => controller.abort() };
    inFlight = request;
    const params = filterParams();
    params.set("k", slider.value);
    let url;
    if (query.kind === "upload") {
      if (asked) params.set("box", asked.box.join(","));
      url = `/api/search/${encodeURIComponent(query.id)}?${params}`;
    } else {
      url = `/api/images/${encodeURIComponent(query.id)}/similar?${params}`;
    }
    statusLine.textContent = "Searching…";
    try {
      const response = await fetch(url, { signal: controller.signal });
      const body = await response.json().catch(() => null);
      if (inFlight !== request) return;
      const expired = response.status === 404 && body && body.error && body.error.code === "query_expired";
      if (expired && query.file) {
        finish(request);
        query.id = null;
        upload(false); // the server forgot it; the photo is still here
        return;
      }
      finish(request);
      if (!response.ok) {
        failed(describeError(response.status, body));
        if (expired) hidePreview();
        return;
      }
      if (body.photo_size && body.photo_size.length === 2) query.photoSize = body.photo_size;
      answered(body, asked, started);
      remember(false);
    } catch (error) {
      finish(request);
      if (error.name === "AbortError") return;
      failed("Could not reach the server. Check your connection and try again.");
    }
  }

  function answered(body, asked, started) {
    render(body, performance.now() - started);
    if (query.kind === "upload") showRegions(body, asked);
  }

  // ---- Filters --------------------------------------------------------------------------

  function filtersChanged() {
    minScoreValue.textContent = Number(minScore.value) > 0 ? Number(minScore.value).toFixed(2) : "any";
    clearFiltersButton.hidden = !filtersSet();
    clearTimeout(filterTimer);
    filterTimer = setTimeout(refresh, FILTER_DELAY_MS);
  }

  function clearFilters() {
    makeSelect.value = "";
    yearMin.value = "";
    yearMax.value = "";
    minScore.value = "0";
    filtersChanged();
  }

  for (const [, input] of FILTERS) input.addEventListener("input", filtersChanged);
  slider.addEventListener("input", () => {
    sliderValue.textContent = slider.value;
    clearTimeout(filterTimer);
    filterTimer = setTimeout(refresh, FILTER_DELAY_MS);
  });
  clearFiltersButton.addEventListener("click", clearFilters);
  $("nothing-clear").addEventListener("click", clearFilters);
  $("controls").addEventListener("submit", (event) => event.preventDefault());
  $("cancel-upload").addEventListener("click", () => {
    if (inFlight) inFlight.abort();
  });

  // ---- Regions on the photo -------------------------------------------------------------

  // The photo's own pixels (what boxes are in): the server's word, else the preview's.
  function photoSize() {
    if (preview.hidden) return null;
    if (query && query.photoSize) return query.photoSize;
    return [preview.naturalWidth, preview.naturalHeight];
  }

  function photoReady() {
    const size = photoSize();
    return Boolean(query && query.kind === "upload" && size && size[0] > 0 && size[1] > 0 && preview.naturalWidth > 0);
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
    const width = preview.naturalWidth;
    const height = preview.naturalHeight;
    if (preview.hidden || !width || !height) return;
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
    if (!asked || !photoCars.length) photoCars = cars;
    if (!asked) autoBox = searched;
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
    refresh();
  }

  // Esc, or a search without a box: the server chooses the region again.
  function startOver() {
    if (!chosen) return;
    chosen = null;
    refresh();
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
    if (viewer.open) {
      if (event.key === "ArrowLeft") step(-1);
      else if (event.key === "ArrowRight") step(1);
      return;
    }
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (drag) {
      cancelDrag();
    } else if (chosen) {
      startOver();
    }
  });

  // ---- Results --------------------------------------------------------------------------

  function percent(value) {
    return `${Math.round(value * 100)}%`;
  }

  function render(body, waitedMs) {
    lastBody = body;
    shownResults = body.results;
    results.replaceChildren(...body.results.map(resultItem));
    const count = body.results.length;
    const server = Math.round(body.timings_ms.total);
    const timing = `you waited ${seconds(waitedMs)}; the server took ${server} ms`;
    statusLine.textContent = count
      ? `${count} similar ${count === 1 ? "car" : "cars"} (${timing})`
      : `No similar cars (${timing}).`;
    nothing.hidden = count > 0;
    if (!count) {
      $("nothing-text").textContent = filtersSet()
        ? "No catalog image matches these filters. Loosen the filters (another make, a wider year range, a lower minimum similarity) or clear them."
        : "The catalog has no image to show for this photo.";
      $("nothing-clear").hidden = !filtersSet();
    }
    const prediction = body.prediction;
    answer.hidden = !prediction;
    $("answer-thanks").hidden = true;
    $("correction").hidden = true;
    $("answer-wrong").setAttribute("aria-expanded", "false");
    for (const id of ["answer-right", "answer-wrong"]) $(id).disabled = false;
    if (prediction) {
      const name = document.createElement("strong");
      name.textContent = prediction.class_name;
      const lead = prediction.sure ? "This looks like: " : "This might be: ";
      predictionLine.replaceChildren(lead, name, ` (${percent(prediction.confidence)})`);
      const others = prediction.candidates.slice(1).map((c) => `${c.class_name} (${percent(c.probability)})`);
      doubtLine.textContent = others.length ? `Not sure. It could also be: ${others.join(", ")}.` : "Not sure.";
      doubtLine.hidden = prediction.sure;
    }
  }

  function label(result) {
    return result.class_name || [result.make, result.year].filter(Boolean).join(" ") || "Unlabelled car";
  }

  // Make, model and year on lines of their own; a label the catalog could not split stays whole.
  function nameLines(result) {
    if (result.make && result.model) {
      const year = result.year ? String(result.year) : "";
      const rest = [result.model, result.body].filter(Boolean).join(" ");
      return [result.make, rest, year].filter(Boolean);
    }
    return [label(result)];
  }

  function scoreWords(result) {
    if (result.same_image) return "the same photo as yours";
    const score = result.score;
    if (score >= 0.9) return "nearly identical";
    if (score >= 0.8) return "very similar";
    if (score >= 0.7) return "similar";
    if (score >= 0.5) return "somewhat similar";
    return "not very similar";
  }

  function resultItem(result, index) {
    const item = document.createElement("li");
    item.className = "card";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "result";
    button.dataset.id = result.id;
    button.dataset.score = result.score;
    // No aria-label: the button's name is its visible text (make, model, year, score).
    const image = document.createElement("img");
    image.src = result.thumbnail_url;
    image.alt = "";
    image.loading = "lazy";
    button.append(image);
    const name = document.createElement("span");
    name.className = "name";
    for (const line of nameLines(result)) {
      const part = document.createElement("span");
      part.className = "line";
      part.textContent = line;
      name.append(part);
    }
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = `similarity ${result.score.toFixed(3)}`;
    button.append(name, score);
    if (result.same_image) {
      const badge = document.createElement("span");
      badge.className = "same-photo";
      badge.textContent = "Same photo";
      button.append(badge);
    }
    button.addEventListener("click", () => openViewer(index));
    item.append(button, cardActions(result));
    return item;
  }

  function cardActions(result) {
    const actions = document.createElement("div");
    actions.className = "card-actions";
    const name = label(result);
    for (const [verdict, words] of [["up", "Good match"], ["down", "Bad match"]]) {
      const vote = document.createElement("button");
      vote.type = "button";
      vote.className = "vote";
      vote.dataset.verdict = verdict;
      vote.title = words;
      vote.append(thumb(verdict === "down"));
      vote.setAttribute("aria-label", `${words}: ${name}`);
      vote.setAttribute("aria-pressed", "false");
      vote.addEventListener("click", async () => {
        const sent = await sendFeedback({ result_id: result.id, verdict, class_name: verdict === "up" ? result.class_name : null });
        if (!sent) return;
        for (const other of actions.querySelectorAll(".vote")) other.setAttribute("aria-pressed", String(other === vote));
      });
      actions.append(vote);
    }
    const similar = document.createElement("a");
    similar.className = "more-like";
    similar.href = similarAddress(result.id);
    similar.textContent = "More like this";
    similar.setAttribute("aria-label", `More like this: ${name}`);
    similar.addEventListener("click", (event) => {
      event.preventDefault();
      showSimilar(result.id, name, true);
    });
    actions.append(similar);
    return actions;
  }

  // ---- Feedback -------------------------------------------------------------------------

  // A thumb drawn in SVG (emoji fonts are not everywhere); down is the same thumb turned over.
  function thumb(down) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.classList.add("thumb");
    if (down) svg.classList.add("down");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", "M2 10h4v11H2zM8 21h9.5a2 2 0 0 0 2-1.6l1.4-7A2 2 0 0 0 19 10h-5.5l.9-4.3A1.8 1.8 0 0 0 12.6 3.6L8 9.5z");
    svg.append(path);
    return svg;
  }

  async function sendFeedback(fields) {
    if (!query || !query.id) return false;
    const about = query.kind === "upload" ? { query_id: query.id } : { query_image: Number(query.id) };
    const predicted = lastBody && lastBody.prediction ? lastBody.prediction.class_name : null;
    const payload = { ...about, result_id: null, class_name: null, predicted_class: predicted, ...fields };
    try {
      const response = await fetch("/api/feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload),
      });
      if (response.ok) return true;
      const body = await response.json().catch(() => null);
      setError(describeError(response.status, body));
    } catch {
      setError("Could not send your feedback. Check your connection and try again.");
    }
    return false;
  }

  function thank(text) {
    const thanks = $("answer-thanks");
    thanks.textContent = text;
    thanks.hidden = false;
  }

  $("answer-right").addEventListener("click", async () => {
    const prediction = lastBody && lastBody.prediction;
    if (!prediction) return;
    if (await sendFeedback({ verdict: "up", class_name: prediction.class_name })) {
      thank("Thanks! Noted as right.");
      $("answer-right").disabled = true;
    }
  });

  $("answer-wrong").addEventListener("click", async () => {
    const correction = $("correction");
    correction.hidden = !correction.hidden;
    $("answer-wrong").setAttribute("aria-expanded", String(!correction.hidden));
    if (!correction.hidden) {
      await loadClasses();
      $("correct-class").focus();
    }
  });

  $("send-correction").addEventListener("click", async () => {
    const typed = $("correct-class").value.trim();
    const known = (classesLoaded || []).map((c) => c.class_name);
    if (!known.includes(typed)) {
      setError("Pick the right car from the list (start typing its make or model).");
      return;
    }
    if (lastBody && lastBody.prediction && typed === lastBody.prediction.class_name) {
      setError("That is the answer given: press \u201cRight car\u201d if it is right.");
      return;
    }
    setError("");
    if (await sendFeedback({ verdict: "down", class_name: typed })) {
      $("correction").hidden = true;
      $("answer-wrong").setAttribute("aria-expanded", "false");
      thank(`Thanks! Noted: it is a ${typed}.`);
    }
  });

  // A make from the address may come before the list of makes: it is an option meanwhile.
  function setMake(make) {
    if (make && ![...makeSelect.options].some((option) => option.value === make)) {
      const option = document.createElement("option");
      option.value = make;
      option.textContent = make;
      makeSelect.append(option);
    }
    makeSelect.value = make;
  }

  async function loadClasses() {
    if (classesLoaded) return classesLoaded;
    try {
      const response = await fetch("/api/classes");
      if (!response.ok) return [];
      const body = await response.json();
      classesLoaded = body.classes || [];
      $("class-names").replaceChildren(...classesLoaded.map((c) => {
        const option = document.createElement("option");
        option.value = c.class_name;
        return option;
      }));
      const current = makeSelect.value;
      makeSelect.replaceChildren(makeSelect.options[0], ...(body.makes || []).map((m) => {
        const option = document.createElement("option");
        option.value = m.make;
        option.textContent = `${m.make} (${m.images})`;
        return option;
      }));
      setMake(current);
      return classesLoaded;
    } catch {
      return [];
    }
  }

  // ---- Large view -----------------------------------------------------------------------

  function similarAddress(id) {
    return `/?similar=${encodeURIComponent(id)}`;
  }

  async function openViewer(index) {
    const result = shownResults[index];
    if (!result) return;
    viewing = index;
    const name = label(result);
    viewerImage.style.maxWidth = "";
    viewerImage.src = result.image_url;
    viewerImage.alt = name;
    viewerCaption.textContent = name;
    viewerScore.textContent = `Similarity ${result.score.toFixed(3)}: ${scoreWords(result)}. `
      + "It is the cosine of the two photos' vectors: 1 means the same picture, and photos "
      + "of the same model mostly score above 0.7.";
    viewerSimilar.href = similarAddress(result.id);
    $("viewer-prev").disabled = index === 0;
    $("viewer-next").disabled = index === shownResults.length - 1;
    showDetails(result, null);
    if (!viewer.open) viewer.showModal();
    try {
      const response = await fetch(`/api/images/${result.id}/info`);
      if (response.ok && viewing === index) showDetails(result, await response.json());
    } catch {
      // The details from the search answer are enough.
    }
  }

  function showDetails(result, info) {
    const source = info || result;
    const rows = [
      ["Make", source.make],
      ["Model", source.model],
      ["Body", source.body],
      ["Year", source.year],
      ["Size", info ? `${info.width} × ${info.height} px` : null],
      ["Catalog id", result.id],
    ];
    viewerDetails.replaceChildren(...rows.filter(([, value]) => value).flatMap(([term, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = String(value);
      return [dt, dd];
    }));
  }

  function step(delta) {
    const next = viewing + delta;
    if (next >= 0 && next < shownResults.length) openViewer(next);
  }

  // No blurry enlargement: at most twice the image's own size.
  viewerImage.addEventListener("load", () => {
    viewerImage.style.maxWidth = `min(100%, ${viewerImage.naturalWidth * 2}px)`;
  });
  $("viewer-prev").addEventListener("click", () => step(-1));
  $("viewer-next").addEventListener("click", () => step(1));
  viewerSimilar.addEventListener("click", (event) => {
    event.preventDefault();
    const result = shownResults[viewing];
    viewer.close();
    if (result) showSimilar(result.id, label(result), true);
  });
  // A click on the dimmed backdrop (the dialog itself, outside its content) closes it.
  viewer.addEventListener("click", (event) => {
    if (event.target === viewer) viewer.close();
  });

  // ---- "More like this" and addresses ---------------------------------------------------

  function showSimilar(id, name, newEntry) {
    query = { kind: "similar", id: String(id), file: null, photoSize: null };
    chosen = null;
    showPreview(`/api/images/${encodeURIComponent(id)}`, name ? `More like this: ${name}` : "More like this catalog image");
    if (newEntry) history.pushState(null, "", pageAddress());
    refresh();
    window.scrollTo({ top: 0 });
  }

  // The page opened at (or went back to) an address that holds a search.
  function fromAddress() {
    const params = new URLSearchParams(location.search);
    slider.value = params.get("k") || DEFAULT_K;
    sliderValue.textContent = slider.value;
    setMake(params.get("make") || "");
    yearMin.value = params.get("year_min") || "";
    yearMax.value = params.get("year_max") || "";
    minScore.value = params.get("min_score") || "0";
    minScoreValue.textContent = Number(minScore.value) > 0 ? Number(minScore.value).toFixed(2) : "any";
    clearFiltersButton.hidden = !filtersSet();
    const box = (params.get("box") || "").split(",").map(Number);
    chosen = box.length === 4 && box.every(Number.isFinite) ? { box, how: "drawn" } : null;
    const uploaded = params.get("q");
    const similar = params.get("similar");
    if (uploaded) {
      const onScreen = query && query.kind === "upload" && query.id === uploaded;
      const known = lastUpload && lastUpload.id === uploaded ? lastUpload : null;
      if (!onScreen) {
        query = known || { kind: "upload", id: uploaded, file: null, photoSize: null };
        showPreview(known ? known.file : `/api/search/${encodeURIComponent(uploaded)}/photo`);
      }
      refresh();
    } else if (similar) {
      if (!(query && query.kind === "similar" && query.id === similar)) {
        query = { kind: "similar", id: similar, file: null, photoSize: null };
        showPreview(`/api/images/${encodeURIComponent(similar)}`, "More like this catalog image");
      }
      refresh();
    } else {
      query = null;
      chosen = null;
      if (inFlight) inFlight.abort();
      hidePreview();
      clearResults();
      statusLine.textContent = "";
      setError("");
    }
  }
  window.addEventListener("popstate", fromAddress);

  // ---- Picking a photo ------------------------------------------------------------------

  for (const input of [fileInput, cameraInput]) {
    input.addEventListener("change", () => {
      useFile(input.files[0]);
      input.value = ""; // picking the same file again still triggers a search
    });
  }

  // A photo dropped anywhere on the page is searched (not opened by the browser instead).
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropZone.classList.add("dragging");
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) dropZone.classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    dropZone.classList.remove("dragging");
    const files = event.dataTransfer ? [...event.dataTransfer.files] : [];
    useFile(files.find((file) => file.type.startsWith("image/")) || files[0]);
  });

  document.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData ? event.clipboardData.files : [])];
    const image = files.find((file) => file.type.startsWith("image/")) || files[0];
    if (image) {
      event.preventDefault();
      useFile(image);
    }
  });

  // Phones have no Ctrl+V: say what works there.
  if (window.matchMedia("(pointer: coarse)").matches) {
    $("drop-hint").textContent = "Take a photo of a car, or";
  }

  async function loadStats() {
    try {
      const response = await fetch("/api/stats");
      if (!response.ok) return;
      const stats = await response.json();
      maxUploadBytes = stats.max_upload_bytes;
      const images = stats.images.toLocaleString("en");
      $("tagline").textContent = `Find cars that look like your photo among ${images} catalog images.`;
      $("formats").textContent = `JPEG, PNG, WebP, HEIC, AVIF, GIF, BMP or TIFF, up to ${megabytes(maxUploadBytes)}.`;
    } catch {
      // The page works without it: the server still enforces its limits.
    }
  }
  loadStats();
  loadClasses();
  fromAddress();
})();
