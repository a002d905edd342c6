using Convnet.Data;
using Convnet.Images;

namespace Convnet.Cli;

/// <summary>One picture as grayscale in [0, 1], transparency over white, for predict --image (decoding is the library's <see cref="ImageDecoder"/>).</summary>
internal static class ImageLoader
{
    /// <exception cref="UserError">
    /// The file is missing, is no image Skia reads, claims more than <see cref="ImageDecoder.MaxPixels"/>
    /// pixels (refused from its header, before anything is decoded or allocated), or is truncated or corrupt.
    /// </exception>
    public static (float[] Gray, int Width, int Height) LoadGray(string path)
    {
        Cli.CheckExists(path, "image");
        byte[] bytes;
        ImageInfo info;
        try
        {
            info = ImageDecoder.ReadInfo(path);
            bytes = ImageDecoder.Decode(path, channels: 1);
        }
        catch (DataFormatException e)
        {
            throw new UserError(e.Message);
        }
        var gray = new float[bytes.Length];
        for (int i = 0; i < gray.Length; i++)
        {
            gray[i] = bytes[i] / 255f;
        }
        return (gray, info.Width, info.Height);
    }
}
