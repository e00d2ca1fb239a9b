// Kaowu: the few behaviours that need script. Every page works without it.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-captcha-refresh]");
  if (!button) return;
  const group = button.closest(".mb-3") || document;
  const response = await fetch(button.dataset.captchaRefresh, { headers: { "X-Requested-With": "XMLHttpRequest" } });
  if (!response.ok) return;
  const data = await response.json();
  group.querySelector("img.captcha").src = data.image_url;
  group.querySelector("input[type=hidden][name$='captcha_0']").value = data.key;
  const input = group.querySelector("input[name$='captcha_1']");
  input.value = "";
  input.focus();
});
// After an error summary is rendered, move focus to it so screen-reader users hear it first.
document.addEventListener("DOMContentLoaded", () => document.getElementById("error-summary")?.focus());
