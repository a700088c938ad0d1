// LTI console screens: copy buttons for the URLs an administrator pastes into a platform.
// <button data-lti-copy="#element-id"> copies the element's text; the next .lti-copied says what happened.
// Without the Clipboard API (plain-http origins other than localhost) the text is selected instead.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button[data-lti-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const source = document.querySelector(button.dataset.ltiCopy);
      const status = button.parentElement.querySelector(".lti-copied");
      if (!source) return;
      const text = source.textContent.trim();
      let copied = false;
      if (navigator.clipboard && window.isSecureContext) {
        try {
          await navigator.clipboard.writeText(text);
          copied = true;
        } catch (err) {
          copied = false;
        }
      }
      if (!copied) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
      if (status) status.textContent = copied ? status.dataset.copied : status.dataset.selected;
    });
  });
});
