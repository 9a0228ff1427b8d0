// RevSearch catalog browser: makes -> models -> years, each with its images, page by page.
// The address is the place (/browse?make=Ford&model=Focus&year=2007&page=2&image=12), so
// reloading, sharing and the back button all work; links are real links, followed here
// without a reload. An image opens in a large view with its details and "More like this".
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const crumbs = $("crumbs");
  const groupsHeading = $("groups-heading");
  const groups = $("groups");
  const imagesHeading = $("images-heading");
  const statusLine = $("status");
  const errorLine = $("error");
  const tiles = $("images");
  const pager = $("pager");
  const prevLink = $("prev");
  const nextLink = $("next");
  const pageInfo = $("page-info");
  const viewer = $("viewer");
  const viewerTitle = $("viewer-title");
  const viewerImage = $("viewer-image");
  const viewerDetails = $("viewer-details");
  const viewerSimilar = $("viewer-similar");
  const viewerBack = $("viewer-back");

  const PAGE_SIZE = 48;
  const MAX_ZOOM = 2; // the large view enlarges a small photo at most this much

  let classes = null; // the promise of GET /api/classes, fetched once
  let shownList = null; // the address (without the image) whose images are on screen
  let shown = new Map(); // id -> the images on screen, for the large view
  let ticket = 0; // the latest render; older answers are dropped
  let opener = null; // the tile that opened the large view, focused again on close

  // ---- The place ------------------------------------------------------------------------

  function positive(value) {
    const number = Number(value);
    return Number.isSafeInteger(number) && number > 0 ? number : null;
  }

  function place() {
    const params = new URLSearchParams(location.search);
    const text = (name) => (params.get(name) || "").trim() || null;
    return {
      make: text("make"),
      model: text("model"),
      year: positive(params.get("year")),
      page: positive(params.get("page")) || 1,
      image: positive(params.get("image")),
    };
  }

  function address(where) {
    const params = new URLSearchParams();
    if (where.make) params.set("make", where.make);
    if (where.model) params.set("model", where.model);
    if (where.year) params.set("year", String(where.year));
    if (where.page && where.page > 1) params.set("page", String(where.page));
    if (where.image) params.set("image", String(where.image));
    const query = params.toString();
    return query ? `/browse?${query}` : "/browse";
  }

  function listAddress(where) {
    return address({ ...where, image: null });
  }

  function go(url, state = null) {
    history.pushState(state, "", url);
    render();
  }

  // ---- Loading --------------------------------------------------------------------------

  async function getJson(url) {
    const response = await fetch(url);
    let body = null;
    try {
      body = await response.json();
    } catch {
      // not JSON: said below
    }
    if (!response.ok) {
      const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
      throw new Error(message);
    }
    return body;
  }

  function loadClasses() {
    if (!classes) {
      classes = getJson("/api/classes").catch((error) => {
        classes = null; // try again next time
        throw error;
      });
    }
    return classes;
  }

  function same(a, b) {
    return (a || "").toLowerCase() === (b || "").toLowerCase();
  }

  function count(images) {
    return `${images} image${images === 1 ? "" : "s"}`;
  }

  function showError(message) {
    errorLine.textContent = message;
    errorLine.hidden = !message;
  }

  // ---- Where you are: crumbs and the next level down ------------------------------------

  function link(text, url) {
    const anchor = document.createElement("a");
    anchor.href = url;
    anchor.textContent = text;
    return anchor;
  }

  function showCrumbs(where) {
    const steps = [["All makes", { page: 1 }]];
    if (where.make) steps.push([where.make, { make: where.make }]);
    if (where.model) steps.push([where.model, { make: where.make, model: where.model }]);
    if (where.year) steps.push([String(where.year), { ...where, page: 1, image: null }]);
    crumbs.replaceChildren(...steps.map(([text, target], index) => {
      const item = document.createElement("li");
      if (index === steps.length - 1) {
        const here = document.createElement("span");
        here.textContent = text;
        here.setAttribute("aria-current", "location");
        item.append(here);
      } else {
        item.append(link(text, address(target)));
      }
      return item;
    }));
    const name = steps.slice(1).map(([text]) => text).join(" ");
    document.title = `${name ? `${name} · ` : ""}Browse the catalog · RevSearch`;
  }

  // The level below the place: makes, a make's models, or a model's years, with counts.
  function subgroups(where, listing) {
    if (!where.make && !where.model && !where.year) {
      return {
        heading: "Makes",
        items: listing.makes.map((m) => [m.make, m.images, { make: m.make }]),
      };
    }
    if (!where.make || where.year) return null;
    const matching = listing.classes.filter((c) => same(c.make, where.make)
      && (!where.model || same(c.model, where.model)));
    const key = where.model ? "year" : "model";
    const totals = new Map();
    for (const entry of matching) {
      if (entry[key] === null) continue; // no model (or year) to go on to: listed below only
      totals.set(entry[key], (totals.get(entry[key]) || 0) + entry.images);
    }
    const names = [...totals.keys()].sort((a, b) => (key === "year"
      ? a - b : String(a).localeCompare(String(b), undefined, { sensitivity: "base" })));
    return {
      heading: where.model ? `Years of the ${where.make} ${where.model}` : `Models of ${where.make}`,
      items: names.map((name) => [String(name), totals.get(name), { ...where, [key]: name }]),
    };
  }

  function showGroups(where, listing) {
    const level = subgroups(where, listing);
    groups.parentElement.hidden = !level || !level.items.length;
    if (!level) return;
    groupsHeading.textContent = level.heading;
    groups.replaceChildren(...level.items.map(([name, images, target]) => {
      const anchor = link("", address({ ...target, page: 1 }));
      anchor.className = "group";
      const label = document.createElement("span");
      label.className = "group-name";
      label.textContent = name;
      const number = document.createElement("span");
      number.className = "count";
      number.textContent = count(images);
      anchor.append(label, number);
      const item = document.createElement("li");
      item.append(anchor);
      return item;
    }));
  }

  // ---- The images of the place, page by page --------------------------------------------

  function imageName(image) {
    return image.class_name || "Unlabelled image";
  }

  function tile(image) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "tile";
    button.dataset.id = String(image.id);
    button.setAttribute("aria-haspopup", "dialog"); // its name is what it shows
    const picture = document.createElement("img");
    picture.src = image.thumbnail_url;
    picture.alt = "";
    picture.loading = "lazy";
    picture.decoding = "async";
    const name = document.createElement("span");
    name.className = "tile-name";
    name.textContent = imageName(image);
    const meta = document.createElement("span");
    meta.className = "tile-meta";
    meta.textContent = `#${image.id} · ${image.width} × ${image.height}`;
    button.append(picture, name, meta);
    const item = document.createElement("li");
    item.append(button);
    return item;
  }

  function pageLink(anchor, where, page, exists) {
    if (exists) {
      anchor.href = address({ ...where, page, image: null });
      anchor.removeAttribute("aria-disabled");
    } else {
      anchor.removeAttribute("href");
      anchor.setAttribute("aria-disabled", "true");
    }
  }

  function showPage(where, body) {
    const pages = Math.max(1, Math.ceil(body.total / PAGE_SIZE));
    shown = new Map(body.images.map((image) => [image.id, image]));
    tiles.replaceChildren(...body.images.map(tile));
    const first = body.offset + 1;
    const last = body.offset + body.images.length;
    if (!body.total) {
      statusLine.textContent = "No images here.";
    } else if (!body.images.length) {
      statusLine.textContent = `Page ${where.page} is past the end: there are ${pages}.`;
    } else {
      statusLine.textContent = `${count(body.total)}; showing ${first}–${last}.`;
    }
    pager.hidden = body.total <= PAGE_SIZE && where.page === 1;
    pageInfo.textContent = `Page ${where.page} of ${pages}`;
    pageLink(prevLink, where, Math.min(where.page - 1, pages), where.page > 1);
    pageLink(nextLink, where, where.page + 1, where.page < pages);
  }

  async function showImages(where, mine) {
    const list = listAddress(where);
    if (list === shownList) return true;
    const params = new URLSearchParams({
      offset: String((where.page - 1) * PAGE_SIZE),
      limit: String(PAGE_SIZE),
    });
    if (where.make) params.set("make", where.make);
    if (where.model) params.set("model", where.model);
    if (where.year) params.set("year", String(where.year));
    const name = [where.make, where.model, where.year].filter(Boolean).join(" ");
    imagesHeading.textContent = name ? `Images: ${name}` : "All images";
    tiles.setAttribute("aria-busy", "true");
    try {
      const body = await getJson(`/api/images?${params}`);
      if (mine !== ticket) return false;
      showPage(where, body);
      shownList = list;
      return true;
    } finally {
      if (mine === ticket) tiles.removeAttribute("aria-busy");
    }
  }

  // ---- The large view -------------------------------------------------------------------

  function showDetails(image) {
    const rows = [
      ["Make", image.make],
      ["Model", image.model],
      ["Body", image.body],
      ["Year", image.year],
      ["Size", `${image.width} × ${image.height} px`],
      ["Catalog id", image.id],
    ];
    viewerDetails.replaceChildren(...rows.flatMap(([term, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value === null || value === undefined ? "—" : String(value);
      return [dt, dd];
    }));
  }

  async function showViewer(where, mine) {
    if (!where.image) {
      if (viewer.open) viewer.close();
      return;
    }
    let image = shown.get(where.image);
    if (!image) {
      image = await getJson(`/api/images/${where.image}/info`);
      if (mine !== ticket) return;
    }
    viewerTitle.textContent = imageName(image);
    // At most MAX_ZOOM times its own size, and never wider than the view.
    if (viewerImage.getAttribute("src") !== image.image_url) viewerImage.removeAttribute("src");
    viewerImage.style.maxWidth = `${MAX_ZOOM * image.width}px`;
    viewerImage.width = image.width;
    viewerImage.height = image.height;
    viewerImage.alt = imageName(image);
    viewerImage.src = image.image_url;
    showDetails(image);
    viewerSimilar.href = `/?similar=${encodeURIComponent(image.id)}`;
    viewerBack.href = listAddress(where);
    if (!viewer.open) viewer.showModal();
  }

  function openImage(button) {
    opener = button;
    go(address({ ...place(), image: Number(button.dataset.id) }), { viewer: true });
  }

  // Closing (Escape, "Back to the list") returns to the list: back in history if the large
  // view was opened here, else by replacing the address (it was opened from a link).
  function closedViewer() {
    const where = place();
    if (where.image) {
      if (history.state && history.state.viewer) {
        history.back();
      } else {
        history.replaceState(null, "", listAddress(where));
        render();
      }
    }
    const target = opener && opener.isConnected
      ? opener : tiles.querySelector(`[data-id="${where.image}"]`);
    if (target) target.focus();
    opener = null;
  }

  // ---- Putting it together --------------------------------------------------------------

  async function render() {
    const mine = ++ticket;
    const where = place();
    showCrumbs(where);
    showError("");
    try {
      const listing = await loadClasses();
      if (mine !== ticket) return;
      showGroups(where, listing);
      if (!(await showImages(where, mine))) return;
      await showViewer(where, mine);
    } catch (error) {
      if (mine !== ticket) return;
      statusLine.textContent = "";
      showError(`Could not load the catalog: ${error.message}`);
    }
  }

  // Links inside the page are followed without a reload (a new history entry each).
  document.addEventListener("click", (event) => {
    const anchor = event.target.closest("a[href]");
    if (!anchor || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const url = new URL(anchor.href, location.href);
    if (url.origin !== location.origin || url.pathname !== "/browse") return;
    event.preventDefault();
    if (anchor === viewerBack) {
      viewer.close();
      return;
    }
    if (url.pathname + url.search !== location.pathname + location.search) {
      go(url.pathname + url.search);
      window.scrollTo(0, 0);
    }
  });

  tiles.addEventListener("click", (event) => {
    const button = event.target.closest("button.tile");
    if (button) openImage(button);
  });
  viewer.addEventListener("close", closedViewer);
  // A click on the backdrop (outside the dialog's box) closes it too.
  viewer.addEventListener("click", (event) => {
    if (event.target === viewer) {
      const box = viewer.getBoundingClientRect();
      const inside = event.clientX >= box.left && event.clientX <= box.right
        && event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) viewer.close();
    }
  });
  window.addEventListener("popstate", render);

  render();
})();
