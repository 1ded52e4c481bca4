// Typeset the math of pymdownx.arithmatex (generic: true) with the vendored KaTeX.
// Arithmatex wraps inline math as <span class="arithmatex">\( ... \)</span> and display math as
// <div class="arithmatex">\[ ... \]</div>; only those elements are rendered, so a "\(" in code
// or prose elsewhere is left alone. Nothing is loaded from the network.
(function () {
  "use strict";

  var options = {
    delimiters: [
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true }
    ],
    throwOnError: false
  };

  function render(root) {
    if (typeof renderMathInElement !== "function") {
      return;
    }
    var nodes = (root || document).querySelectorAll(".arithmatex");
    for (var i = 0; i < nodes.length; i++) {
      renderMathInElement(nodes[i], options);
      if (nodes[i].tagName === "DIV") {
        unwrapDisplay(nodes[i]);
      }
    }
  }

  // auto-render puts each formula in a <span>. In a display block that inline span would hold the
  // block-level .katex-display, and Material's padding on the div's children would then add an
  // empty line above and below the formula; lifting .katex-display out of the span avoids that.
  function unwrapDisplay(div) {
    var children = Array.prototype.slice.call(div.children);
    for (var j = 0; j < children.length; j++) {
      var span = children[j];
      if (span.tagName === "SPAN" && span.children.length === 1 &&
          span.firstElementChild.classList.contains("katex-display")) {
        div.replaceChild(span.firstElementChild, span);
      }
    }
  }

  if (typeof document$ !== "undefined" && document$ && document$.subscribe) {
    // Material for MkDocs: document$ emits on the first load and on every instant navigation.
    document$.subscribe(function () {
      render(document);
    });
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      render(document);
    });
  } else {
    render(document);
  }
})();
