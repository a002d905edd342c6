using Convnet.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Convnet.Tests.Saving;

/// <summary>Runs an exported graph in ONNX Runtime (which checks the model when it loads it) on raw pixels.</summary>
internal static class OnnxRuntimeCheck
{
    /// <summary>A session on <paramref name="onnx"/>: ONNX Runtime's own model check happens here.</summary>
    public static InferenceSession Open(byte[] onnx, int threads = 1) =>
        new(onnx, new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 });

    /// <summary>The output "probabilities" for <paramref name="nchw"/>: [n, C, H, W] raw pixel values.</summary>
    public static float[] Run(InferenceSession session, float[] nchw, int n, Shape shape)
    {
        var input = new DenseTensor<float>(nchw, [n, shape.Channels, shape.Height, shape.Width]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("pixels", input)]);
        var output = results.Single(r => r.Name == "probabilities").AsTensor<float>();
        return [.. output];
    }

    /// <summary>
    /// <paramref name="n"/> random images of 0–255 integers: as our models take them (NHWC, each
    /// byte divided by 255 as the data path does) and as the ONNX graph takes them (NCHW, raw).
    /// </summary>
    public static (float[] Nhwc, float[] Nchw) RandomImages(Shape shape, int n, int seed)
    {
        var rng = new Random(seed);
        var bytes = new byte[n * shape.Size];
        rng.NextBytes(bytes);
        var nhwc = new float[bytes.Length];
        Convnet.Kernels.Elementwise.BytesToUnit(bytes, nhwc);
        return (nhwc, ToNchw(bytes, n, shape));
    }

    /// <summary>Images stored as bytes [n, H, W, C] as floats [n, C, H, W].</summary>
    public static float[] ToNchw(ReadOnlySpan<byte> bytes, int n, Shape shape)
    {
        int h = shape.Height, w = shape.Width, c = shape.Channels;
        var nchw = new float[bytes.Length];
        for (int i = 0; i < n; i++)
        {
            for (int y = 0; y < h; y++)
            {
                for (int x = 0; x < w; x++)
                {
                    for (int ch = 0; ch < c; ch++)
                    {
                        nchw[((i * c + ch) * h + y) * w + x] = bytes[((i * h + y) * w + x) * c + ch];
                    }
                }
            }
        }
        return nchw;
    }
}
