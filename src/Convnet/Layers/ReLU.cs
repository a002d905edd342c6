using Convnet.Kernels;
using Convnet.Tensors;
using Convnet.Runtime;

namespace Convnet.Layers;

/// <summary>y = max(x, 0); dx = dy where x &gt; 0.</summary>
public sealed class ReLU : Layer
{
    private readonly Action<int> _forwardChunk;
    private readonly Action<int> _backwardChunk;

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


    public override Tensor Forward(Tensor x, bool training)
    {
        CheckInput(x);
        EnsureCapacity(x.Batch);
        X = x;
        if (InputIsRectified)
        {
            // max(x, 0) = x: the previous layer applied it in its GEMM epilogue.
            return x;
        }
        Y!.SetBatch(x.Batch);
        Pool.For(Chunks.Count(x.Batch), _forwardChunk);
        return Y;
    }

    private void ForwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, X!.Batch);
        Elementwise.Map<ReluOperator>(X.Samples(start, count), Y!.Samples(start, count));
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
        StartBackward(dy);
        Pool.For(Chunks.Count(dy.Batch), _backwardChunk);
        return Dx;
    }

    private void BackwardChunk(int chunk)
    {
        var (start, count) = Chunks.Range(chunk, Dy!.Batch);
        Elementwise.Map<ReluGradientOperator>(X!.Samples(start, count), Dy.Samples(start, count), Dx!.Samples(start, count));
    }
}
