// RevSearch admin: add images (POST /api/images, one at a time, each with its own progress
// and outcome) and delete them (DELETE /api/images/{id}), with the server's bearer token.
// The token is kept in this page's memory, or in this tab's sessionStorage if asked, and is
// only ever sent in the Authorization header: never in an address.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const tokenForm = $("token-form");
  const tokenInput = $("token");
  const remember = $("remember");
  const tokenStatus = $("token-status");
  const addForm = $("add-form");
  const classInput = $("class-name");
  const classList = $("class-names");
  const dropZone = $("drop-zone");
  const fileInput = $("files");
  const queueList = $("queue");
  const uploadButton = $("upload");
  const clearButton = $("clear");
  const uploadStatus = $("upload-status");
  const deleteForm = $("delete-form");
  const deleteInput = $("delete-id");
  const deleteStatus = $("delete-status");

  const TOKEN_KEY = "revsearch.admin.token";
  // Ids start at 1, so deleting image 0 changes nothing: its answer only says whether the
  // token is the server's (404) or not (401, 403).
  const PROBE_URL = "/api/images/0";

  let token = "";
  let maxUploadBytes = null; // from /api/stats: larger files are refused before sending
  let uploading = false;
  const queue = []; // {file, item, progress, outcome, state: waiting|sending|done}

  // ---- The token ------------------------------------------------------------------------

  function storage() {
    try {
      return window.sessionStorage;
    } catch {
      return null; // storage blocked: memory only
    }
  }

  function keepToken() {
    const store = storage();
    if (!store) return;
    if (remember.checked && token) store.setItem(TOKEN_KEY, token);
    else store.removeItem(TOKEN_KEY);
  }

  function say(line, text, bad = false) {
    line.replaceChildren(...(Array.isArray(text) ? text : [text]));
    line.classList.toggle("bad", bad);
    line.classList.toggle("ok", !bad && Boolean(text));
  }

  function needToken(line) {
    if (token) return false;
    say(line, "Enter the API token first.", true);
    tokenInput.focus();
    return true;
  }

  function headers() {
    return { Authorization: `Bearer ${token}` };
  }

  function errorOf(body, status) {
    const error = body && body.error;
    return {
      code: error ? error.code : `http_${status}`,
      message: error && error.message ? error.message : `the server answered HTTP ${status}`,
    };
  }

  // A refused token, in plain words; null when the answer is about something else.
  function tokenProblem(status, error) {
    if (status === 401) return "No token was sent: enter the server's API token above.";
    if (status === 403 && error.code === "forbidden") {
      return "Wrong token: the server refused it. Check it against the server's REVSEARCH_API_TOKEN.";
    }
    if (status === 403) return `The server does not accept changes: ${error.message}`;
    return null;
  }

  function tokenRefused(problem) {
    say(tokenStatus, problem, true);
  }

  async function parse(response) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  tokenInput.addEventListener("input", () => {
    token = tokenInput.value.trim();
    keepToken();
    say(tokenStatus, "");
  });
  remember.addEventListener("change", keepToken);

  tokenForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    token = tokenInput.value.trim();
    keepToken();
    if (needToken(tokenStatus)) return;
    say(tokenStatus, "Checking…");
    try {
      const response = await fetch(PROBE_URL, { method: "DELETE", headers: headers() });
      const error = errorOf(await parse(response), response.status);
      const problem = tokenProblem(response.status, error);
      if (problem) tokenRefused(problem);
      else if (response.status === 404) say(tokenStatus, "Token accepted: you can add and delete images.");
      else say(tokenStatus, `Could not check the token: ${error.message}`, true);
    } catch {
      say(tokenStatus, "Could not reach the server.", true);
    }
  });

  // ---- The files to add -----------------------------------------------------------------

  function megabytes(bytes) {
    return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  }

  function size(bytes) {
    return bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} KB` : megabytes(bytes);
  }

  function refreshButtons() {
    uploadButton.disabled = uploading || !queue.some((entry) => entry.state === "waiting");
    clearButton.disabled = uploading || !queue.length;
  }

  function addFiles(files) {
    for (const file of files) {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.className = "file-name";
      name.textContent = `${file.name} (${size(file.size)})`;
      const progress = document.createElement("progress");
      progress.max = 1;
      progress.value = 0;
      progress.setAttribute("aria-label", `Upload of ${file.name}`);
      const outcome = document.createElement("span");
      outcome.className = "outcome";
      outcome.textContent = "Waiting to upload.";
      item.append(name, progress, outcome);
      queueList.append(item);
      queue.push({ file, item, progress, outcome, state: "waiting" });
    }
    say(uploadStatus, queue.length ? `${queue.length} in the list.` : "");
    refreshButtons();
  }

  fileInput.addEventListener("change", () => {
    addFiles([...fileInput.files]);
    fileInput.value = ""; // the same file can be picked again
  });
  for (const name of ["dragenter", "dragover"]) {
    dropZone.addEventListener(name, (event) => {
      event.preventDefault();
      dropZone.classList.add("dragging");
    });
  }
  dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropZone.classList.remove("dragging");
    addFiles([...(event.dataTransfer ? event.dataTransfer.files : [])]);
  });

  clearButton.addEventListener("click", () => {
    queue.splice(0);
    queueList.replaceChildren();
    say(uploadStatus, "");
    refreshButtons();
  });

  function imageLink(body, text) {
    const anchor = document.createElement("a");
    anchor.href = body.image_url;
    anchor.textContent = text;
    return anchor;
  }

  function settle(entry, state, parts) {
    entry.state = "done";
    entry.item.className = state;
    entry.item.dataset.outcome = state;
    entry.outcome.replaceChildren(...parts);
  }

  // One upload; resolves to "added", "duplicate", "rejected" or "refused" (the token).
  function send(entry, className) {
    return new Promise((resolve) => {
      const form = new FormData();
      form.append("image", entry.file, entry.file.name);
      if (className) form.append("class_name", className);
      const request = new XMLHttpRequest();
      request.open("POST", "/api/images");
      request.setRequestHeader("Authorization", `Bearer ${token}`);
      request.responseType = "json";
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) entry.progress.value = event.loaded / event.total;
      });
      request.addEventListener("load", () => {
        const body = request.response;
        entry.progress.value = 1;
        if (request.status === 201) {
          settle(entry, "added", ["Added as ", imageLink(body, `image #${body.id}`), "."]);
          resolve("added");
          return;
        }
        if (request.status === 200) {
          settle(entry, "duplicate", [
            "Already in the catalog, as ", imageLink(body, `image #${body.id}`), ": not added again.",
          ]);
          resolve("duplicate");
          return;
        }
        const error = errorOf(body, request.status);
        const problem = tokenProblem(request.status, error);
        if (problem) {
          entry.state = "waiting"; // not tried with a good token: left for the next upload
          entry.progress.value = 0;
          entry.outcome.textContent = `Not added: ${problem}`;
          tokenRefused(problem);
          resolve("refused");
          return;
        }
        settle(entry, "rejected", [`Rejected: ${error.message}`]);
        resolve("rejected");
      });
      request.addEventListener("error", () => {
        settle(entry, "rejected", ["Failed: the connection to the server was lost."]);
        resolve("rejected");
      });
      entry.state = "sending";
      entry.outcome.textContent = "Uploading…";
      request.send(form);
    });
  }

  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (uploading || needToken(uploadStatus)) return;
    const className = classInput.value.trim();
    const counts = { added: 0, duplicate: 0, rejected: 0 };
    uploading = true;
    refreshButtons();
    try {
      for (const entry of queue.filter((e) => e.state === "waiting")) {
        if (maxUploadBytes !== null && entry.file.size > maxUploadBytes) {
          settle(entry, "rejected", [
            `Rejected: ${megabytes(entry.file.size)} is too large; the limit is ${megabytes(maxUploadBytes)}.`,
          ]);
          counts.rejected += 1;
          continue;
        }
        say(uploadStatus, `Uploading ${entry.file.name}…`);
        const outcome = await send(entry, className);
        if (outcome === "refused") {
          say(uploadStatus, "Stopped: the token was refused. Fix it above, then upload again.", true);
          return;
        }
        counts[outcome] += 1;
      }
      const parts = [
        `${counts.added} added`,
        `${counts.duplicate} already in the catalog`,
        `${counts.rejected} rejected`,
      ];
      say(uploadStatus, `Done: ${parts.join(", ")}.`, counts.rejected > 0);
      if (counts.added) loadClasses(); // a new class name joins the suggestions
    } finally {
      uploading = false;
      refreshButtons();
    }
  });

  // ---- Deleting -------------------------------------------------------------------------

  deleteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (needToken(deleteStatus)) return;
    const id = Number(deleteInput.value);
    if (!Number.isSafeInteger(id) || id < 1) {
      say(deleteStatus, "Enter the id of a catalog image (a whole number).", true);
      return;
    }
    if (!window.confirm(`Delete image #${id} from the catalog? This cannot be undone.`)) {
      say(deleteStatus, "Nothing deleted.");
      return;
    }
    try {
      const response = await fetch(`/api/images/${id}`, { method: "DELETE", headers: headers() });
      if (response.status === 204) {
        say(deleteStatus, `Deleted image #${id}.`);
        deleteInput.value = "";
        return;
      }
      const error = errorOf(await parse(response), response.status);
      const problem = tokenProblem(response.status, error);
      if (problem) {
        tokenRefused(problem);
        say(deleteStatus, `Not deleted: ${problem}`, true);
      } else if (response.status === 404) {
        say(deleteStatus, `There is no image #${id} in the catalog.`, true);
      } else {
        say(deleteStatus, `Not deleted: ${error.message}`, true);
      }
    } catch {
      say(deleteStatus, "Could not reach the server.", true);
    }
  });

  // ---- Start ----------------------------------------------------------------------------

  async function loadClasses() {
    try {
      const response = await fetch("/api/classes");
      if (!response.ok) return;
      const body = await response.json();
      classList.replaceChildren(...body.classes.map((entry) => {
        const option = document.createElement("option");
        option.value = entry.class_name;
        option.label = `${entry.class_name} (${entry.images})`;
        return option;
      }));
    } catch {
      // suggestions only: a new name can always be typed
    }
  }

  async function loadStats() {
    try {
      const response = await fetch("/api/stats");
      if (response.ok) maxUploadBytes = (await response.json()).max_upload_bytes;
    } catch {
      // the server still refuses what is too large
    }
  }

  const kept = storage() && storage().getItem(TOKEN_KEY);
  if (kept) {
    token = kept;
    tokenInput.value = kept;
    remember.checked = true;
  }
  loadClasses();
  loadStats();
  refreshButtons();
})();
