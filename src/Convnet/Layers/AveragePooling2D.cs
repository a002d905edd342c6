using Convnet.Kernels;
using Convnet.Tensors;
using Convnet.Runtime;

namespace Convnet.Layers;

/// <summary>Average pooling with "valid" windows (Keras's default): each output is the mean of its window.</summary>
public sealed class AveragePooling2D : Pooling2D
{
    private readonly Action<int> _forwardChunk;
    private readonly Action<int> _backwardChunk;

    /// <param name="poolSize">Window size.</param>
    /// <param name="stride">Step between windows; defaults to <paramref name="poolSize"/>.</param>
    public AveragePooling2D(int poolSize = 2, int? stride = null)
        : base(poolSize, stride)
    {
        _forwardChunk = ForwardChunk;
        _backwardChunk = BackwardChunk;
    }

    public override string TypeName => "AveragePooling2D";
    public override string DefaultName => "average_pooling2d";


    // x: [N, H, W, C] → y[n, oy, ox, c] = (1/k²)·Σ_{window} x[n, oy·s + i, ox·s + j, c]
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        Pool.For(Chunks.Count(x.Batch), _forwardChunk);
        return Y;
    }

    private void ForwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, X!.Batch);
        int c = Geometry.Channels, k = PoolSize;
        float scale = 1f / (k * k);
        for (int n = start; n < start + count; n++)
        {
            var x = X.Sample(n);
            var y = Y!.Sample(n);
            for (int oy = 0; oy < Geometry.OutHeight; oy++)
            {
                for (int ox = 0; ox < Geometry.OutWidth; ox++)
                {
                    var yo = y.Slice((oy * Geometry.OutWidth + ox) * c, c);
                    yo.Clear();
                    for (int i = 0; i < k; i++)
                    {
                        for (int j = 0; j < k; j++)
                        {
                            var xi = x.Slice(((oy * Stride + i) * Geometry.Width + ox * Stride + j) * c, c);
                            Elementwise.Map<AddOperator>(yo, xi, yo);
                        }
                    }
                    for (int ch = 0; ch < c; ch++)
                    {
                        yo[ch] *= scale;
                    }
                }
            }
        }
    }

    // dy: [N, OH, OW, C] → dx: every input of a window receives dy/k²
    public override Tensor? Backward(Tensor dy)
    {
        if (!ComputeInputGradient)
        {
            return null;
        }
        StartBackward(dy);
        Pool.For(Chunks.Count(dy.Batch), _backwardChunk);
        return Dx;
    }

    private void BackwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, Dy!.Batch);
        int c = Geometry.Channels, k = PoolSize;
        float scale = 1f / (k * k);
        for (int n = start; n < start + count; n++)
        {
            var dy = Dy.Sample(n);
            var dx = Dx!.Sample(n);
            dx.Clear();
            for (int oy = 0; oy < Geometry.OutHeight; oy++)
            {
                for (int ox = 0; ox < Geometry.OutWidth; ox++)
                {
                    var g = dy.Slice((oy * Geometry.OutWidth + ox) * c, c);
                    for (int i = 0; i < k; i++)
                    {
                        for (int j = 0; j < k; j++)
                        {
                            var dxi = dx.Slice(((oy * Stride + i) * Geometry.Width + ox * Stride + j) * c, c);
                            for (int ch = 0; ch < c; ch++)
                            {
                                dxi[ch] += g[ch] * scale;
                            }
                        }
                    }
                }
            }
        }
    }
}
