// The guard page's optional QR reader: where the browser has BarcodeDetector and a camera, a
// checkpoint's code can be read instead of typed.
import { $ } from "./api.js";

let stream = null;

export function cameraAvailable() {
  return "BarcodeDetector" in window && !!navigator.mediaDevices;
}

/** Open the back camera and call onCode(text) with the first QR code seen; onError() on failure. */
export async function startCamera(onCode, onError) {
  try {
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    const video = $("camera");
    video.srcObject = stream;
    $("camera-box").hidden = false;
    await video.play();
    const look = async () => {
      if (!stream) return;
      try {
        const codes = await detector.detect(video);
        if (codes.length && codes[0].rawValue) {
          stopCamera();
          onCode(codes[0].rawValue);
          return;
        }
      } catch {
        /* a frame that is not ready yet */
      }
      setTimeout(look, 250);
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
