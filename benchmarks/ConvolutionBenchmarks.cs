using BenchmarkDotNet.Attributes;
using Convnet.Kernels;
using Convnet.Layers;
using Convnet.Runtime;

namespace Convnet.Benchmarks;

/// <summary>im2col / col2im of conv2 (13×13×32 → 11×11 outputs, 3×3 patches) for one chunk of 16 images.</summary>
[MemoryDiagnoser]
public class ConvolutionBenchmarks
{
    private readonly ConvGeometry _g = ConvGeometry.Create(13, 13, 32, 3, 1, same: false);
    private float[] _x = [], _col = [];

    [GlobalSetup]
    public void Setup()
    {
        _x = Fixtures.RandomFloats(Chunks.Size * _g.Height * _g.Width * _g.Channels, 1);
        _col = Fixtures.RandomFloats(Chunks.Size * _g.OutPixels * _g.PatchSize, 2);
    }

    [Benchmark]
    public void Im2ColConv2()
    {
        int image = _g.Height * _g.Width * _g.Channels, rows = _g.OutPixels * _g.PatchSize;
        for (int i = 0; i < Chunks.Size; i++)
        {
            Convolution.Im2Col(_x.AsSpan(i * image, image), _g, _col.AsSpan(i * rows, rows));
        }
    }

    [Benchmark]
    public void Col2ImConv2()
    {
        int image = _g.Height * _g.Width * _g.Channels, rows = _g.OutPixels * _g.PatchSize;
        _x.AsSpan().Clear();
        for (int i = 0; i < Chunks.Size; i++)
        {
            Convolution.Col2Im(_col.AsSpan(i * rows, rows), _g, _x.AsSpan(i * image, image));
        }
    }
}
