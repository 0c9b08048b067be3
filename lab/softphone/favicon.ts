/**
 * The softphone's icon, drawn here rather than shipped as a binary: a 16×16 32-bit ICO (one BMP image) of a green
 * disc with a white ring, served at /favicon.ico so the browser's automatic request does not end in a 404.
 */
const SIZE_PX = 16;
const GREEN = [0x37, 0x7f, 0x1a]; // #1a7f37, in the BMP's blue-green-red order
const WHITE = [0xff, 0xff, 0xff];

export function faviconIco(): Buffer {
  const pixelBytes = SIZE_PX * SIZE_PX * 4;
  const maskBytes = SIZE_PX * 4; // 1 bit per pixel, each row padded to 4 bytes; all zero: the alpha channel decides
  const imageBytes = 40 + pixelBytes + maskBytes;
  const ico = Buffer.alloc(6 + 16 + imageBytes);
  ico.writeUInt16LE(0, 0);
  ico.writeUInt16LE(1, 2); // an icon
  ico.writeUInt16LE(1, 4); // one image
  ico.writeUInt8(SIZE_PX, 6);
  ico.writeUInt8(SIZE_PX, 7);
  ico.writeUInt16LE(1, 10); // colour planes
  ico.writeUInt16LE(32, 12); // bits per pixel
  ico.writeUInt32LE(imageBytes, 14);
  ico.writeUInt32LE(22, 18); // where the image starts
  const bmp = 22;
  ico.writeUInt32LE(40, bmp);
  ico.writeInt32LE(SIZE_PX, bmp + 4);
  ico.writeInt32LE(SIZE_PX * 2, bmp + 8); // an ICO's BMP counts the mask's rows too
  ico.writeUInt16LE(1, bmp + 12);
  ico.writeUInt16LE(32, bmp + 14);
  ico.writeUInt32LE(pixelBytes + maskBytes, bmp + 20);
  const centre = (SIZE_PX - 1) / 2;
  for (let row = 0; row < SIZE_PX; row++) {
    for (let column = 0; column < SIZE_PX; column++) {
      const distance = Math.hypot(column - centre, row - centre);
      const colour = distance > 7.5 ? undefined : distance > 3.2 && distance < 4.6 ? WHITE : GREEN;
      const at = bmp + 40 + ((SIZE_PX - 1 - row) * SIZE_PX + column) * 4; // rows bottom-up
      if (colour) ico.set([...colour, 0xff], at);
    }
  }
  return ico;
}
