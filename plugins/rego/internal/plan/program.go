package plan

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Program is a compiled plan, ready to evaluate. It is immutable and safe
// for concurrent use; each evaluation takes a machine from its pool.
type Program struct {
	main      *function // the plan's blocks, as a function of input and data
	funcs     []*function
	stackSize int // the locals of the deepest chain of calls
	needsTime bool
	pool      machinePool
	// resultKeys are the variables of a tuple result (result.go).
	resultKeys []*ast.Term
	// files are the policies' file names, for the location of an error.
	files []string
}

// file names a plan location's file.
func (p *Program) file(i int) string {
	if i >= 0 && i < len(p.files) {
		return p.files[i]
	}
	return ""
}

// function is a planned rule or function: blocks over its own locals.
type function struct {
	name    string
	id      int
	params  []int32
	ret     int32
	blocks  []block
	nlocals int
	// memo: a function of input and data alone (a rule without
	// arguments) is evaluated once per evaluation.
	memo bool
	// depth is the locals this function and its deepest callees use.
	depth int
}

// block is a sequence of instructions; an undefined one ends the block.
type block []instr

// instr is one statement, its operands resolved.
type instr struct {
	op    opcode
	a, b  operand
	dst   int32     // the target local
	key   int32     // a scan's key local
	val   int32     // a scan's value local
	n     int       // a break's depth; an array's capacity
	k     *ast.Term // a constant the statement assigns
	body  []block   // a block statement's blocks; not, scan: body[0]
	fn    *function
	bi    *builtin
	args  []operand
	where *ir.Location
	// data keeps a lookup's answer in data (datadot.go).
	data *dataDot
}

type opcode uint8

const (
	opNop opcode = iota
	opAssign
	opAssignOnce
	opConst
	opReset
	opMakeArray
	opMakeObject
	opMakeSet
	opDot
	opLen
	opEqual
	opNotEqual
	opIsArray
	opIsObject
	opIsSet
	opIsDefined
	opIsUndefined
	opArrayAppend
	opObjectInsert
	opObjectInsertOnce
	opSetAdd
	opObjectMerge
	opBuildArray
	opBuildObject
	opBuildSet
	opBlock
	opBreak
	opNot
	opScan
	opCall
	opBuiltin
	opResult
	opResultTuple
)

// operand is a local or a constant.
type operand struct {
	local int32
	k     *ast.Term
}

// builtin is a built-in function as the plan calls it.
type builtin struct {
	name string
	decl *ast.Builtin
	f    topdown.BuiltinFunc
	// own, if set, answers from the evaluator's own values before they
	// are converted for f; nil hands the call to f.
	own func(m *machine, args []*ast.Term) *ast.Term
}
