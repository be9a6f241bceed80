// Downloads read back inside the page, for drivers that cannot save files where a test finds them
// (WebDriver classic, WebDriver BiDi). Streamlit's download buttons and the engine's both click a link;
// after window.__catchDownloads() each such click is kept instead of saved, and
// window.__downloaded(i) fetches the i-th: {name, type, base64}.
(() => {
  const toBase64 = (bytes) => {
    let binary = '';
    for (let i = 0; i < bytes.length; i += 32768) binary += String.fromCharCode(...bytes.subarray(i, i + 32768));
    return btoa(binary);
  };
  window.__toBase64 = toBase64;
  window.__catchDownloads = () => {
    window.__downloads = [];
    HTMLAnchorElement.prototype.click = function () {
      window.__downloads.push({href: this.href, name: this.download});
    };
  };
  window.__downloaded = async (index) => {
    const {href, name} = window.__downloads[index];
    const response = await fetch(href);
    return {name, type: response.headers.get('content-type'), base64: toBase64(new Uint8Array(await response.arrayBuffer()))};
  };
})();
