// The guard page's tag readers: the camera (QR codes) and, where the phone has Web NFC, an NFC tag
// carrying the same text. The camera uses the browser's BarcodeDetector where there is one, and
// otherwise ZXing-C++ compiled to WebAssembly (web/vendor/zxing-wasm, pinned; see its README),
// loaded from this server only when first needed.
import { $ } from "./api.js";

const WASM = "/static/vendor/zxing-wasm/reader/zxing_reader.wasm";
let stream = null;
let zxing = null; // the loaded module, once

export function cameraAvailable() {
  return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

export function nfcAvailable() {
  return "NDEFReader" in window;
}

async function decoder() {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return async (video) => {
          const codes = await detector.detect(video);
          return codes.length ? codes[0].rawValue : null;
        };
      }
    } catch {
      /* fall back to the WebAssembly reader */
    }
  }
  if (!zxing) {
    zxing = await import("./vendor/zxing-wasm/es/reader/index.js");
    zxing.prepareZXingModule({ overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM : prefix + path) } });
  }
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    if (!video.videoWidth) return null;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const found = await zxing.readBarcodes(image, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 });
    return found.length && found[0].isValid ? found[0].text : null;
  };
}

/** Open the back camera and call onCode(text) with the first QR code seen; onError() on failure. */
export async function startCamera(onCode, onError) {
  try {
    const read = await decoder();
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    const video = $("camera");
    video.srcObject = stream;
    $("camera-box").hidden = false;
    await video.play();
    const look = async () => {
      if (!stream) return;
      try {
        const text = await read(video);
        if (text) {
          stopCamera();
          onCode(text, "qr");
          return;
        }
      } catch {
        /* a frame that is not ready yet */
      }
      setTimeout(look, 200);
    };
    look();
  } catch (err) {
    stopCamera();
    onError(err);
  }
}

export function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  $("camera").srcObject = null;
  $("camera-box").hidden = true;
}

/** Listen for NFC tags (Web NFC, Android Chrome); onCode(text, "nfc") with each tag's first text record. */
export async function startNfc(onCode, onError) {
  try {
    const reader = new window.NDEFReader();
    await reader.scan();
    reader.addEventListener("reading", (event) => {
      for (const record of event.message.records) {
        if (record.recordType === "text" || record.recordType === "url") {
          const text = new TextDecoder(record.encoding || "utf-8").decode(record.data);
          if (text.startsWith("mcc:")) {
            onCode(text.trim(), "nfc");
            return;
          }
        }
      }
    });
  } catch (err) {
    onError(err);
  }
}
