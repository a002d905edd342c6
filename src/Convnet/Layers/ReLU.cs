using Convnet.Kernels;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>y = max(x, 0); dx = dy where x &gt; 0.</summary>
public sealed class ReLU : Layer
{
    private readonly Action<int> _forwardChunk;
    private readonly Action<int> _backwardChunk;
    private Tensor? _x, _y, _dx, _dy;

    public ReLU()
    {
        _forwardChunk = ForwardChunk;
        _backwardChunk = BackwardChunk;
    }

    /// <summary>Set by Sequential when the previous layer already rectified its output (fused into its GEMM).</summary>
    internal bool InputIsRectified { get; set; }

    /// <summary>Set by Sequential when the next layer's Backward already applied this layer's mask.</summary>
    internal bool GradientIsRectified { get; set; }

    public override string TypeName => "ReLU";
    public override string DefaultName => "re_lu";
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>();
    public override Shape ComputeOutputShape(Shape input) => input;

    public override void EnsureCapacity(int batch)
    {
        _y = Reserve(_y, OutputShape, batch);
        if (ComputeInputGradient)
        {
            _dx = Reserve(_dx, InputShape, batch);
        }
    }

    public override Tensor Forward(Tensor x, bool training)
    {
        CheckInput(x);
        EnsureCapacity(x.Batch);
        _x = x;
        if (InputIsRectified)
        {
            // max(x, 0) = x: the previous layer applied it in its GEMM epilogue.
            return x;
        }
        _y!.SetBatch(x.Batch);
        Pool.For(Chunks.Count(x.Batch), _forwardChunk);
        return _y;
    }

    private void ForwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, _x!.Batch);
        Elementwise.Map<ReluOperator>(_x.Samples(start, count), _y!.Samples(start, count));
    }

    public override Tensor? Backward(Tensor dy)
    {
        if (!ComputeInputGradient)
        {
            return null;
        }
        if (GradientIsRectified)
        {
            // dy is already zero wherever x ≤ 0: the next layer's Backward applied the mask.
            return dy;
        }
        _dy = dy;
        _dx!.SetBatch(dy.Batch);
        Pool.For(Chunks.Count(dy.Batch), _backwardChunk);
        return _dx;
    }

    private void BackwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, _dy!.Batch);
        Elementwise.Map<ReluGradientOperator>(_x!.Samples(start, count), _dy.Samples(start, count), _dx!.Samples(start, count));
    }
}
