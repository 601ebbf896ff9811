// A link to the same page in the other language. The Chinese site is the English one's zh/
// folder, with the same page names; Sphinx marks a page's language on <html lang>.
document.addEventListener("DOMContentLoaded", () => {
  const chinese = document.documentElement.lang.toLowerCase().startsWith("zh");
  const page = window.location.pathname.split("/").pop() || "index.html";
  const link = document.createElement("a");
  link.className = "language-switch";
  link.href = (chinese ? "../" : "zh/") + page + window.location.hash;
  link.textContent = chinese ? "English" : "中文";
  link.lang = chinese ? "en" : "zh-CN";
  link.title = chinese ? "Read this page in English" : "阅读本页的中文版";
  const buttons = document.querySelector(".article-header-buttons");
  if (buttons) {
    buttons.prepend(link);
  } else {
    document.body.prepend(link);
  }
});
