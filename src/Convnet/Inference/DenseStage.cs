using Convnet.Kernels;
using Convnet.Tensors;

namespace Convnet.Inference;

/// <summary>
/// A fully connected product [+ ReLU] with its weights prepacked; after a Flatten of an image
/// (taken in through <see cref="InferenceCompiler.TakeFlatten"/>) its rows follow the image's (H, W, C) order.
/// </summary>
internal sealed class DenseStage : InferenceStage
{
    private readonly int _inputs;
    private readonly int _units;
    private readonly float[] _packed;
    private readonly float[] _bias;
    private bool _relu;

    // kernel: W [inputs, units], rows in Flatten's (C, H, W) order when image (the shape a Flatten before took) is set.
    public DenseStage(ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias, int inputs, int units, Shape? image, string name, Shape output)
        : base(name, output)
    {
        _inputs = inputs;
        _units = units;
        _bias = bias.ToArray();
        var weights = kernel.ToArray();
        if (image is { } s)
        {
            // Row ch·HW + p of W (Flatten's (C, H, W) order) becomes row p·C + ch.
            int hw = s.Height * s.Width, c = s.Channels;
            for (int p = 0; p < hw; p++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    kernel.Slice((ch * hw + p) * _units, _units).CopyTo(weights.AsSpan((p * c + ch) * _units, _units));
                }
            }
        }
        _packed = new float[Gemm.PackedSize(_units, _inputs)];
        Gemm.PackB(weights, _units, false, _units, _inputs, _packed);
    }

    public override long Flops => 2L * _inputs * _units;

    public override bool TryRectify(string name)
    {
        if (_relu)
        {
            return false;
        }
        _relu = true;
        Description += " + " + name;
        return true;
    }

    // One sample's row in bands of columns: at batch 1 the weights are the memory traffic, each thread reads its share.
    public override int Parts => Gemv.CanSplitColumns && _units >= 2 * Gemv.ColumnBlock ? SplitParts : 0;

    public override void RunPart(int part, Span<float> x, Span<float> y, InferenceWorkspace ws)
    {
        // Bands of whole column blocks (two panels).
        int blocks = (_units + Gemv.ColumnBlock - 1) / Gemv.ColumnBlock;
        var (first, end) = Band(part, Parts, blocks);
        int from = first * Gemv.ColumnBlock, to = Math.Min(end * Gemv.ColumnBlock, _units);
        Gemv.MultiplyPackedColumns(x, _packed, _units, _inputs, y, _bias, _relu, from, to - from);
    }

    public override void Run(Span<float> x, int count, Span<float> y, InferenceWorkspace ws)
    {
        if (count <= Gemm.SmallRows)
        {
            // A few rows one by one (the same sums as the packed product).
            for (int i = 0; i < count; i++)
            {
                Gemv.MultiplyPacked(x.Slice(i * _inputs, _inputs), _packed, _units, _inputs, y.Slice(i * _units, _units), _bias, _relu);
            }
            return;
        }
        Gemm.MultiplyPacked(x, _inputs, false, _packed, count, _units, _inputs, y, _units, accumulate: false, bias: _bias, relu: _relu);
    }
}
