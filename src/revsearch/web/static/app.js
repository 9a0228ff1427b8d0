// RevSearch UI: pick, drop, paste or shoot a photo -> POST /api/search -> results grid.
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

  // Friendlier words for the API's error codes; the server's message follows.
  const ERROR_HINTS = {
    unsupported_media_type: "That file is not an image we can read. Try a JPEG, PNG, WebP or HEIC photo.",
    invalid_image: "That image looks damaged or incomplete.",
    image_too_large: "That image is too large.",
    bad_parameter: "The search request was not valid.",
  };
  const SLIDER_DELAY_MS = 200;

  let maxUploadBytes = null; // from /api/stats, to refuse big files before uploading them
  let currentFile = null;
  let previewUrl = null;
  let inFlight = null;
  let sliderTimer = null;

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
    preview.hidden = false;
    preview.src = previewUrl;
  }

  // Formats the browser cannot display (e.g. HEIC on desktop) still search fine.
  preview.addEventListener("error", () => { preview.hidden = true; });

  function megabytes(bytes) {
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function useFile(file) {
    if (!file) return;
    if (maxUploadBytes && file.size > maxUploadBytes) {
      currentFile = null;
      preview.hidden = true;
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
        return;
      }
      render(body);
    } catch (error) {
      if (error.name === "AbortError") return;
      clearResults();
      statusLine.textContent = "";
      setError("Could not reach the server. Check your connection and try again.");
    } finally {
      if (inFlight === controller) {
        inFlight = null;
        results.removeAttribute("aria-busy");
      }
    }
  }

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
